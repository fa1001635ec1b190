#include "kinesis/json_writer.h"

#include "base/base64.h"

#include <string>

namespace sluice::kinesis {

bool decode_base64(std::string_view text, std::string& out, std::string& error) {
  out.clear();
  return decode_base64_append(text, out, error);
}

bool decode_base64_append(std::string_view text, std::string& out, std::string& error) {
  const auto failure = base64_decode_append(text, out);
  if (!failure) return true;
  switch (failure->kind) {
    case Base64Failure::Kind::kLength:
      error = "Base64 encoded length is expected a multiple of 4 bytes but found: " +
              std::to_string(text.size());
      break;
    case Base64Failure::Kind::kCharacter:
      error = std::string("Invalid Base64 character: '") + failure->character + "'";
      break;
    case Base64Failure::Kind::kNonCanonical:
      // The text Java's decoder prints, misspelling included (spec 3.3).
      error = "Invalid last non-pad Base64 character dectected";
      break;
  }
  return false;
}

}  // namespace sluice::kinesis
