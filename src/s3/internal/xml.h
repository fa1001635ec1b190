#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Just enough XML for S3's request and response bodies. Responses are written with
// XmlWriter; request bodies (CreateBucketConfiguration, Delete) are flat documents whose
// few elements of interest are found by name with xml_texts(). Stateless; thread-safe.
namespace sluice::s3::internal {

// `s` with &, <, >, " and ' replaced by entities, and control characters other than tab,
// LF and CR written as numeric character references. When `s` is not valid UTF-8, each of its
// bytes >= 0x80 becomes U+FFFD, so that the document stays UTF-8.
std::string xml_escape(std::string_view s);

// Builds a document: XmlWriter w("ListBucketResult"); w.element("Name", "b"); w.open("X");
// ... w.close("X"); std::move(w).finish(). `root_attributes` is written verbatim.
class XmlWriter {
 public:
  explicit XmlWriter(std::string_view root, std::string_view root_attributes = "");
  void element(std::string_view name, std::string_view text);  // text is escaped
  void open(std::string_view name);
  void close(std::string_view name);
  std::string finish() &&;

 private:
  std::string root_;
  std::string out_;
};

// The text of every element called `name` (no namespace prefix, no attributes needed),
// entities decoded, in document order. nullopt when the document is not well-formed enough
// to tell: an element opened and never closed, or an unknown entity.
std::optional<std::vector<std::string>> xml_texts(std::string_view doc, std::string_view name);

}  // namespace sluice::s3::internal
