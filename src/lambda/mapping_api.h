#pragma once

#include "base/clock.h"
#include "base/json_writer.h"
#include "base/status.h"
#include "esm/engine.h"
#include "esm/mapping.h"
#include "lambda/errors.h"
#include "lambda/names.h"
#include "lambda/registry.h"
#include "net/http_message.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::lambda {

// The event source mapping control plane over REST-JSON (spec lambda-esm-kinesis.md 1.1-1.6,
// docs/wire/lambda.md "Event source mappings"). Most of it is pure functions over request
// bodies and esm::Mapping values, so each rule has a plain unit test; MappingApi ties them
// to the esm::Engine and the FunctionRegistry.

// Whether a body is a CreateEventSourceMapping or an UpdateEventSourceMapping request.
enum class MappingRequestKind { kCreate, kUpdate };

// The members of a Create or Update body that a Kinesis mapping reads, as sent: nullopt when
// absent or JSON null. Filled by parse_mapping_fields(), which has already applied the
// model's constraints (types, enums, ranges, lengths, patterns) to every member here.
struct MappingFields {
  std::optional<std::string> function_name;
  std::optional<std::string> event_source_arn;   // Create only
  std::optional<std::string> starting_position;  // Create only; one of the enum's values
  // Create only: epoch seconds as sent (a number, or an ISO-8601 string converted).
  std::optional<double> starting_position_timestamp;
  std::optional<int64_t> batch_size;
  std::optional<int64_t> maximum_batching_window_s;
  std::optional<int64_t> parallelization_factor;
  std::optional<int64_t> maximum_retry_attempts;
  std::optional<int64_t> maximum_record_age_s;
  std::optional<int64_t> tumbling_window_s;
  std::optional<bool> bisect_batch_on_function_error;
  std::optional<bool> enabled;
  // DestinationConfig was sent: `on_failure_destination` is its OnFailure.Destination ("" when
  // OnFailure or Destination is missing, which clears it); `on_success_given` when it has
  // an OnSuccess member.
  bool destination_config_given = false;
  std::string on_failure_destination;
  bool on_success_given = false;
  std::optional<std::vector<std::string>> function_response_types;
  // FilterCriteria was sent: its Filters[].Pattern strings (empty for {} and {"Filters":[]}).
  // A filter without a Pattern is kept as "" so that the pattern check refuses it.
  std::optional<std::vector<std::string>> filter_patterns;
  std::optional<std::vector<std::string>> metrics;  // MetricsConfig.Metrics
  std::optional<std::string> kms_key_arn;
  // Members of other source types that were sent (Queues, ScalingConfig, ...), in body order.
  std::vector<std::string> foreign_members;
};

// Step 1 of spec 1.5 for `body`: a body that is not a JSON object, or a member of the wrong
// JSON type, is InvalidRequestContentException; the model's constraints are checked all
// together and reported as one ValidationException. Returns nullopt and fills `out` when
// the body passes. On Update, EventSourceArn, StartingPosition and StartingPositionTimestamp
// are not members of the operation and are ignored, as AWS's deserializer ignores them.
std::optional<ApiError> parse_mapping_fields(std::string_view body, MappingRequestKind kind,
                                             MappingFields& out);

// Looks a function up: its unqualified ARN, or nullopt when (account, region, name) has no
// function.
using FunctionLookup = std::function<std::optional<std::string>(const FunctionKey& key)>;

// The FunctionArn a mapping echoes for `raw`: the function's ARN plus the qualifier the name
// carried ("fn:1" -> "...:function:fn:1", "fn:$LATEST" keeps ":$LATEST"). Name syntax errors
// come back as resolve_function_name() gives them; a function that does not exist (or is
// named by an ARN of another region or account) is InvalidParameterValueException
// "Function does not exist".
std::optional<ApiError> resolve_mapping_function(std::string_view raw, const Identity& id,
                                                 const FunctionLookup& lookup,
                                                 std::string& function_arn);

// Steps 2-4 and 6-9 of spec 1.5 for a parsed Create body, then the defaults of 1.2: fills
// `draft` (account and region from `id`) for esm::Engine::create, which checks step 5 (the
// stream) and step 10 (a duplicate). `now_ms` refuses a StartingPositionTimestamp in the
// future.
// `source_check`, when set, is step 5: the EventSourceArn's stream exists (an error Status
// carries the client text); esm::Engine::create() checks it again, atomically.
using SourceCheck = std::function<Status(std::string_view event_source_arn)>;
std::optional<ApiError> build_create_draft(const MappingFields& fields, const Identity& id,
                                           int64_t now_ms, const FunctionLookup& lookup,
                                           esm::Mapping& draft,
                                           const SourceCheck& source_check = {});

// The checks of an Update body that need no mapping (other source types' members, OnSuccess,
// the function, the record-age rule, filter patterns, the destination). On success
// `function_arn` is the resolved FunctionArn when the body named a function, else nullopt.
std::optional<ApiError> check_update(const MappingFields& fields, const Identity& id,
                                     const FunctionLookup& lookup,
                                     std::optional<std::string>& function_arn);
// Applies every member the Update body sent to `mapping`. REQUIRES: check_update() passed.
void apply_update(const MappingFields& fields, const std::optional<std::string>& function_arn,
                  esm::Mapping& mapping);

// Spec 1.5 step 9: whether esm::FilterSet compiles the pattern (the grammar of spec 11.3).
bool valid_filter_pattern(std::string_view pattern);
// An OnFailure destination Sluice accepts: a standard SQS queue, a standard SNS topic or an
// S3 bucket ARN. "" (no destination) is not one; callers treat it as clearing.
bool valid_on_failure_destination(std::string_view arn);

// arn:aws:lambda:<region>:<account>:event-source-mapping:<uuid>
std::string mapping_arn(const esm::Mapping& mapping);
// The mapping object of spec 1.3 as the next value of `w`: every always-present key, the
// conditional ones only when set.
void write_mapping(JsonWriter& w, const esm::Mapping& mapping);
std::string render_mapping(const esm::Mapping& mapping);

// One page of ListEventSourceMappings.
struct MappingListQuery {
  std::optional<std::string> event_source_arn;
  std::optional<std::string> function_name;
  std::optional<std::string> marker;
  std::optional<std::string> max_items;  // as sent in the query string
};
struct MappingPage {
  std::vector<esm::Mapping> mappings;
  std::optional<std::string> next_marker;
};
inline constexpr size_t kMappingsPerPage = 100;
// Filters `all` (oldest first, as esm::Engine::list() returns) to the mappings of `id`'s
// account and region that match the query, and cuts the page after `marker`: at most
// min(MaxItems, 100) mappings, and a NextMarker when more follow. A filter that names
// nothing is an empty page. MaxItems outside 1..10000 is ValidationException; a marker this
// server did not write is InvalidParameterValueException.
std::optional<ApiError> list_mappings(const std::vector<esm::Mapping>& all, const Identity& id,
                                      const MappingListQuery& query, MappingPage& out);
std::string render_page(const MappingPage& page);

// Engine Status codes on the wire for these routes: to_api_error() (errors.h), except
// kNotFound -> ResourceNotFoundException "The resource you requested does not exist." and
// kInUse -> ResourceInUseException.
ApiError to_mapping_error(const Status& status);

// The five routes under /2015-03-31/event-source-mappings, over a borrowed engine and
// registry (both must outlive it). Thread-safe as both are. A mapping of another account or
// region is answered as an unknown one (404).
class MappingApi {
 public:
  MappingApi(esm::Engine* engine, FunctionRegistry* registry, const Clock* clock)
      : engine_(engine), registry_(registry), clock_(clock) {}

  // `segments`: the decoded path segments after the API version, the first being
  // "event-source-mappings"; `query`: the decoded query parameters.
  net::Response route(std::string_view method, const std::vector<std::string>& segments,
                      const std::vector<std::pair<std::string, std::string>>& query,
                      std::string_view body, const Identity& id) const;

  net::Response create(std::string_view body, const Identity& id) const;
  net::Response get(std::string_view uuid, const Identity& id) const;
  net::Response update(std::string_view uuid, std::string_view body, const Identity& id) const;
  net::Response remove(std::string_view uuid, const Identity& id) const;
  net::Response list(const MappingListQuery& query, const Identity& id) const;

 private:
  FunctionLookup lookup() const;
  // The mapping if it belongs to `id`'s account and region; else the 404 error.
  std::optional<ApiError> owned(std::string_view uuid, const Identity& id, esm::Mapping& out) const;
  // A non-empty OnFailure destination must exist on this server (the engine's destinations).
  std::optional<ApiError> check_destination(std::string_view arn) const;

  esm::Engine* const engine_;
  FunctionRegistry* const registry_;
  const Clock* const clock_;
};

}  // namespace sluice::lambda
