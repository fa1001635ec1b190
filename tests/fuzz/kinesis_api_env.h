#pragma once

// What the Kinesis request fuzz targets share: a real kinesis::Api over a StreamService on
// the embedded log (MemFileSystem) and an in-memory SQLite catalog, and one way to hand it a
// request as the HTTP layer would.

#include "kinesis/api.h"
#include "storage/catalog.h"
#include "storage/log_store.h"
#include "stream/embedded_backend.h"
#include "stream/stream_service.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_file_system.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

namespace sluice::kinesis::fuzzing {

inline constexpr std::string_view kAuth =
    "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc";

struct KinesisApiEnv {
  MemFileSystem fs;
  ManualClock clock;
  std::unique_ptr<storage::LogStore> logs;
  std::unique_ptr<storage::Catalog> catalog;
  std::unique_ptr<stream::EmbeddedShardLogBackend> backend;
  std::unique_ptr<stream::CatalogMetadataStore> metadata;
  std::unique_ptr<stream::StreamService> service;
  std::unique_ptr<Api> api;

  KinesisApiEnv() {
    logs = std::move(storage::LogStore::open(&fs, "/logs", {}, &clock)).value();
    catalog = std::move(storage::Catalog::open(":memory:")).value();
    backend = std::make_unique<stream::EmbeddedShardLogBackend>(logs.get());
    metadata = std::make_unique<stream::CatalogMetadataStore>(catalog.get());
    service = std::move(stream::StreamService::open(backend.get(), metadata.get(), &clock)).value();
    api = std::make_unique<Api>(service.get(), ApiOptions{});
  }

  net::Response call(std::string_view op, std::string_view body, std::string_view content_type) {
    const std::string target = "Kinesis_20131202." + std::string(op);
    net::Request r;
    r.method = "POST";
    r.target = "/";
    r.path = "/";
    r.headers = {{"X-Amz-Target", target},
                 {"Content-Type", content_type},
                 {"X-Amz-Date", "20240101T000000Z"},
                 {"Authorization", kAuth}};
    r.body = body;
    return api->handle(r);
  }
};

}  // namespace sluice::kinesis::fuzzing
