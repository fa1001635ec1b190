#include "s3/internal/xml.h"

#include "base/utf8.h"

#include <fmt/format.h>

namespace sluice::s3::internal {

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  // Echoed request bytes (a Range header, a copy source) need not be UTF-8; the document
  // must be. When they are not, every byte >= 0x80 becomes U+FFFD.
  const bool utf8 = valid_utf8(s);
  for (const char c : s) {
    if (!utf8 && static_cast<unsigned char>(c) >= 0x80) {
      out += kUtf8Replacement;
      continue;
    }
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += fmt::format("&#x{:X};", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

XmlWriter::XmlWriter(std::string_view root, std::string_view root_attributes) : root_(root) {
  out_ = R"(<?xml version="1.0" encoding="UTF-8"?>)";
  out_ += "\n<";
  out_ += root;
  if (!root_attributes.empty()) {
    out_.push_back(' ');
    out_ += root_attributes;
  }
  out_.push_back('>');
}

void XmlWriter::element(std::string_view name, std::string_view text) {
  out_ += fmt::format("<{0}>{1}</{0}>", name, xml_escape(text));
}

void XmlWriter::open(std::string_view name) { out_ += fmt::format("<{}>", name); }

void XmlWriter::close(std::string_view name) { out_ += fmt::format("</{}>", name); }

std::string XmlWriter::finish() && {
  close(root_);
  return std::move(out_);
}

namespace {

// Decodes the five named entities and numeric references below 0x80 (all S3 clients send).
std::optional<std::string> unescape(std::string_view s) {
  std::string out;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t amp = s.find('&', pos);
    if (amp == std::string_view::npos) {
      out.append(s.substr(pos));
      break;
    }
    out.append(s.substr(pos, amp - pos));
    const size_t semi = s.find(';', amp);
    if (semi == std::string_view::npos) return std::nullopt;
    const std::string_view entity = s.substr(amp + 1, semi - amp - 1);
    if (entity == "amp") {
      out.push_back('&');
    } else if (entity == "lt") {
      out.push_back('<');
    } else if (entity == "gt") {
      out.push_back('>');
    } else if (entity == "quot") {
      out.push_back('"');
    } else if (entity == "apos") {
      out.push_back('\'');
    } else if (entity.size() >= 2 && entity[0] == '#') {
      const bool hex = entity[1] == 'x' || entity[1] == 'X';
      const std::string_view digits = entity.substr(hex ? 2 : 1);
      if (digits.empty() || digits.size() > 6) return std::nullopt;
      uint32_t v = 0;
      for (const char c : digits) {
        int d = -1;
        if (c >= '0' && c <= '9') d = c - '0';
        if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        if (d < 0) return std::nullopt;
        v = v * (hex ? 16 : 10) + static_cast<uint32_t>(d);
      }
      // UTF-8 encode the code point.
      if (v < 0x80) {
        out.push_back(static_cast<char>(v));
      } else if (v < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (v >> 6)));
        out.push_back(static_cast<char>(0x80 | (v & 0x3F)));
      } else if (v < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (v >> 12)));
        out.push_back(static_cast<char>(0x80 | ((v >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (v & 0x3F)));
      } else if (v < 0x110000) {
        out.push_back(static_cast<char>(0xF0 | (v >> 18)));
        out.push_back(static_cast<char>(0x80 | ((v >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((v >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (v & 0x3F)));
      } else {
        return std::nullopt;
      }
    } else {
      return std::nullopt;
    }
    pos = semi + 1;
  }
  return out;
}

}  // namespace

std::optional<std::vector<std::string>> xml_texts(std::string_view doc, std::string_view name) {
  std::vector<std::string> out;
  const std::string open_plain = fmt::format("<{}>", name);
  const std::string open_attr = fmt::format("<{} ", name);
  const std::string empty_tag = fmt::format("<{}/>", name);
  const std::string close = fmt::format("</{}>", name);
  size_t pos = 0;
  while (true) {
    size_t at = doc.find(fmt::format("<{}", name), pos);
    if (at == std::string_view::npos) break;
    const std::string_view rest = doc.substr(at);
    if (rest.starts_with(empty_tag)) {
      out.emplace_back();
      pos = at + empty_tag.size();
      continue;
    }
    if (!rest.starts_with(open_plain) && !rest.starts_with(open_attr)) {
      pos = at + 1;  // a longer name that starts with `name`
      continue;
    }
    const size_t gt = doc.find('>', at);
    if (gt == std::string_view::npos) return std::nullopt;
    const size_t end = doc.find(close, gt + 1);
    if (end == std::string_view::npos) return std::nullopt;
    auto text = unescape(doc.substr(gt + 1, end - gt - 1));
    if (!text) return std::nullopt;
    out.push_back(std::move(*text));
    pos = end + close.size();
  }
  return out;
}

}  // namespace sluice::s3::internal
