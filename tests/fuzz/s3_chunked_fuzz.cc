// Fuzz target: the aws-chunked body decoder of s3/ (internal/aws_chunked.h) over arbitrary
// bytes, the whole input being one request body. Nothing may crash; a body that decodes
// never yields more data than it came in, every trailer has a non-empty lowercase name,
// and a refusal is kInvalidArgument (the status PutObject maps to IncompleteBody).

#include "s3/internal/aws_chunked.h"

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto decoded = s3::internal::decode_aws_chunked(in);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.status().code() == Code::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(decoded->body.size() <= size);
  size_t trailer_bytes = 0;
  for (const auto& [name, value] : decoded->trailers) {
    FUZZ_CHECK(!name.empty());
    for (const char c : name) {
      FUZZ_CHECK(std::tolower(static_cast<unsigned char>(c)) == static_cast<unsigned char>(c));
    }
    trailer_bytes += name.size() + value.size();
  }
  // Body and trailers come from disjoint parts of the input.
  FUZZ_CHECK(decoded->body.size() + trailer_bytes <= size);
  return 0;
}
