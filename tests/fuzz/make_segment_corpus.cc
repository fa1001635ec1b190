// Writes the seed corpora of segment_reader_fuzz and batch_decode_fuzz: small segment files
// made by the real Log (over MemFileSystem and a ManualClock, so the output is the same on
// every run), some damaged the ways a crash or a bad disk damages them, and single batches
// cut out of them. Built with the fuzz targets; the output is checked in.
//
//   make_segment_corpus <tests/fuzz/corpus>

#include "base/bytes.h"
#include "base/log.h"
#include "storage/batch_format.h"
#include "storage/log.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_file_system.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace sluice::storage {
namespace {

struct Rec {
  std::string payload;
  std::string key;
  std::string hash_key;
  int64_t arrival_ms;
};

// Appends `batches` to a fresh log and returns the bytes of its one segment.
std::string make_segment(const std::vector<std::vector<Rec>>& batches) {
  MemFileSystem fs;
  ManualClock clock;
  LogOptions options;
  options.index_interval_bytes = 128;
  auto log = Log::open(&fs, "/log", options, &clock);
  if (!log.ok()) std::abort();
  for (const auto& batch : batches) {
    std::vector<RecordIn> in;
    for (const Rec& r : batch)
      in.push_back(RecordIn{as_bytes(r.payload), r.key, r.hash_key, r.arrival_ms});
    if (!(*log)->append(in).ok()) std::abort();
  }
  if (!(*log)->close().ok()) std::abort();
  return fs.contents("/log/00000000000000000000.log");
}

// The batches of a segment, each as its own bytes.
std::vector<std::string> split_batches(const std::string& segment) {
  std::vector<std::string> out;
  size_t pos = kSegmentHeaderSize;
  while (pos < segment.size()) {
    auto h = decode_batch_header(as_bytes(segment).subspan(pos), FilePos(pos));
    if (!h.ok()) break;
    out.push_back(segment.substr(pos, h->batch_bytes));
    pos += h->batch_bytes;
  }
  return out;
}

void write(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

int run(const std::string& root) {
  if (!logging::init("off").ok()) return 1;
  const int64_t t = 1'700'000'000'000;
  const std::vector<Rec> two = {{R"({"t":21})", "sensor-1", "", t},
                                {"hi", "sensor-2", "", t + 250}};
  const std::vector<Rec> odd = {
      {"", "empty-payload", "", t + 300},
      {"x", "k", "340282366920938463463374607431768211455", t + 310},  // explicit hash key
      {std::string(300, 'z'), std::string(200, 'k'), "", t - 5000},    // clock went back
      {"late", "k2", "", t + 320},
  };
  std::vector<std::vector<Rec>> many;
  for (int i = 0; i < 60; ++i) {
    std::vector<Rec> batch;
    for (int j = 0; j <= i % 4; ++j) {
      batch.push_back(Rec{
          fmt::format("payload-{}-{}-{}", i, j, std::string(static_cast<size_t>(i * 3 % 97), '.')),
          fmt::format("pk-{}", (i * 7 + j) % 13), j == 2 ? "12345" : "",
          t + i * 10 - (i % 5 == 4 ? 100 : 0)});
    }
    many.push_back(std::move(batch));
  }

  const std::string seg_root = root + "/segment_reader/";
  const std::string empty = make_segment({});
  const std::string one = make_segment({two});
  const std::string mixed = make_segment({two, odd, two});
  const std::string big = make_segment(many);
  write(seg_root + "empty.seg", empty);
  write(seg_root + "one-batch.seg", one);
  write(seg_root + "mixed.seg", mixed);
  write(seg_root + "many-batches.seg", big);
  // A crash in the middle of the last write: a torn tail.
  write(seg_root + "torn-tail.seg", mixed.substr(0, mixed.size() - 17));
  // A torn segment header: the process died while creating the segment.
  write(seg_root + "torn-header.seg", empty.substr(0, 20));
  // A flipped byte in the middle batch, whole batches after it: damage in the middle.
  std::string flipped = mixed;
  flipped[one.size() + 60] = static_cast<char>(flipped[one.size() + 60] ^ 0x40);
  write(seg_root + "damaged-middle.seg", flipped);
  // Zeros after the last batch (a file extended but never written).
  write(seg_root + "zero-tail.seg", one + std::string(64, '\0'));

  const std::string batch_root = root + "/batch_decode/";
  const auto batches = split_batches(mixed);
  write(batch_root + "two-records.batch", batches.at(0));
  write(batch_root + "odd-records.batch", batches.at(1));
  write(batch_root + "short.batch", batches.at(1).substr(0, 70));
  return 0;
}

}  // namespace
}  // namespace sluice::storage

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_segment_corpus <corpus-dir>\n");
    return 64;
  }
  return sluice::storage::run(argv[1]);
}
