package dev.sluice.clients;

import java.math.BigInteger;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.http.Protocol;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.ChildShard;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResultEntry;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException;
import software.amazon.awssdk.services.kinesis.model.ScalingType;
import software.amazon.awssdk.services.kinesis.model.Shard;
import software.amazon.awssdk.services.kinesis.model.ShardIteratorType;
import software.amazon.awssdk.services.kinesis.model.StreamDescriptionSummary;
import software.amazon.awssdk.services.kinesis.model.StreamStatus;

/**
 * Drives a Sluice server with the AWS SDK for Java v2 Kinesis client, with the SDK's defaults
 * (CBOR on) and only the endpoint, region and dummy credentials set.
 *
 * <pre>
 *   java -cp ... dev.sluice.clients.KinesisScenario --endpoint http://127.0.0.1:PORT
 *        --transport apache,urlconnection,netty-h2 [--no-cbor]
 * </pre>
 *
 * Each transport runs the whole scenario on its own stream: create, wait ACTIVE, PutRecord,
 * PutRecords, ListShards, GetShardIterator/GetRecords, SplitShard, MergeShards,
 * UpdateShardCount, one ResourceNotFoundException, DeleteStream, and a second stream left with
 * three records for the caller to read back. --no-cbor (JSON 1.1 instead) is for debugging a
 * server without CBOR; tests/e2e/test_clients.py never passes it. The first failed check ends
 * the process with status 1; on success the last stdout line is a JSON summary.
 */
public final class KinesisScenario {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final KinesisCalls api;
  private final String stream;
  private final List<Map<String, Object>> written = new ArrayList<>();

  private KinesisScenario(KinesisCalls api, String stream) {
    this.api = api;
    this.stream = stream;
  }

  /** Remembers the Content-Type of every request and response the SDK exchanged. */
  static final class ContentTypes implements ExecutionInterceptor {
    final Set<String> requests = ConcurrentHashMap.newKeySet();
    final Set<String> responses = ConcurrentHashMap.newKeySet();

    @Override
    public void beforeTransmission(Context.BeforeTransmission ctx, ExecutionAttributes attrs) {
      ctx.httpRequest().firstMatchingHeader("Content-Type").ifPresent(requests::add);
    }

    @Override
    public void afterTransmission(Context.AfterTransmission ctx, ExecutionAttributes attrs) {
      ctx.httpResponse().firstMatchingHeader("Content-Type").ifPresent(responses::add);
    }
  }

  public static void main(String[] args) throws Exception {
    String endpoint = null;
    String transports = "apache";
    String streamPrefix = "java-sdk";
    boolean cbor = true;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--endpoint" -> endpoint = args[++i];
        case "--transport" -> transports = args[++i];
        case "--stream-prefix" -> streamPrefix = args[++i];
        case "--no-cbor" -> cbor = false;
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    Check.that(endpoint != null, "--endpoint is required");
    // The SDK reads this when it builds a client; without the flag we leave the default alone.
    if (!cbor) System.setProperty("aws.cborEnabled", "false");

    Map<String, Object> summary = new LinkedHashMap<>();
    summary.put("client", "software.amazon.awssdk:kinesis");
    summary.put("cbor", cbor);
    List<Object> runs = new ArrayList<>();
    try {
      for (String transport : transports.split(",")) {
        runs.add(runTransport(transport, URI.create(endpoint), streamPrefix + "-" + transport, cbor));
      }
    } catch (Throwable t) {
      System.err.println("[java-sdk] FAILED");
      t.printStackTrace();
      System.exit(1);
    }
    summary.put("runs", runs);
    summary.put("ok", true);
    System.out.println(Json.write(summary));
    System.exit(0);  // Netty's threads may linger for a moment
  }

  private static Map<String, Object> runTransport(
      String transport, URI endpoint, String stream, boolean cbor) {
    log("transport " + transport + ", stream " + stream);
    var credentials =
        StaticCredentialsProvider.create(
            AwsBasicCredentials.create("AKIDSLUICETEST", "sluice-test-secret"));
    ContentTypes seen = new ContentTypes();
    Map<String, Object> result;
    switch (transport) {
      case "apache", "urlconnection" -> {
        var builder =
            KinesisClient.builder()
                .endpointOverride(endpoint)
                .region(Region.US_EAST_1)
                .credentialsProvider(credentials)
                .overrideConfiguration(o -> o.addExecutionInterceptor(seen));
        if (transport.equals("apache")) {
          builder.httpClientBuilder(ApacheHttpClient.builder());
        } else {
          builder.httpClientBuilder(UrlConnectionHttpClient.builder());
        }
        try (KinesisClient client = builder.build()) {
          result = new KinesisScenario(KinesisCalls.of(client), stream).run();
        }
      }
      case "netty-h2", "netty-h1" -> {
        Protocol protocol = transport.equals("netty-h2") ? Protocol.HTTP2 : Protocol.HTTP1_1;
        try (KinesisAsyncClient client =
            KinesisAsyncClient.builder()
                .endpointOverride(endpoint)
                .region(Region.US_EAST_1)
                .credentialsProvider(credentials)
                .overrideConfiguration(o -> o.addExecutionInterceptor(seen))
                .httpClientBuilder(NettyNioAsyncHttpClient.builder().protocol(protocol))
                .build()) {
          result = new KinesisScenario(KinesisCalls.of(client), stream).run();
        }
      }
      default -> throw new IllegalArgumentException("unknown transport " + transport);
    }
    // What went over the wire: CBOR both ways unless --no-cbor.
    String expected = cbor ? "application/x-amz-cbor-1.1" : "application/x-amz-json-1.1";
    Check.equal(Set.of(expected), seen.requests, "request content types");
    Check.that(seen.responses.contains(expected), "response content types " + seen.responses);
    result.put("transport", transport);
    result.put("request_content_types", new ArrayList<>(seen.requests));
    result.put("response_content_types", new ArrayList<>(seen.responses));
    return result;
  }

  private static void log(String message) {
    System.err.println("[java-sdk] " + message);
  }

  private StreamDescriptionSummary waitActive(String name) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (true) {
      StreamDescriptionSummary s =
          api.describeStreamSummary(r -> r.streamName(name)).streamDescriptionSummary();
      if (s.streamStatus() == StreamStatus.ACTIVE) return s;
      Check.that(System.nanoTime() < deadline, name + " still " + s.streamStatus());
      sleep(100);
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private List<Shard> listShards() {
    List<Shard> shards = new ArrayList<>();
    String token = null;
    do {
      String t = token;
      var out =
          api.listShards(
              r -> {
                if (t == null) r.streamName(stream).maxResults(2);
                else r.nextToken(t);
              });
      shards.addAll(out.shards());
      token = out.nextToken();
    } while (token != null);
    return shards;
  }

  private static Map<String, Object> rec(String shard, String key, String data, String seq) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("shard", shard);
    m.put("key", key);
    m.put("data", data);
    m.put("seq", seq);
    return m;
  }

  private record ShardRead(List<Map<String, Object>> records, List<String> children) {}

  /** Reads a shard from TRIM_HORIZON to its end (closed) or to the tip (open). */
  private ShardRead readShard(String shardId) {
    String iterator =
        api.getShardIterator(
                r ->
                    r.streamName(stream)
                        .shardId(shardId)
                        .shardIteratorType(ShardIteratorType.TRIM_HORIZON))
            .shardIterator();
    List<Map<String, Object>> records = new ArrayList<>();
    List<String> children = List.of();
    for (int page = 0; page < 100 && iterator != null; page++) {
      String it = iterator;
      GetRecordsResponse out = api.getRecords(r -> r.shardIterator(it).limit(7));
      Check.that(out.millisBehindLatest() != null, "MillisBehindLatest present");
      for (Record r : out.records()) {
        Check.that(r.approximateArrivalTimestamp() != null, "arrival timestamp present");
        records.add(
            rec(shardId, r.partitionKey(), r.data().asUtf8String(), r.sequenceNumber()));
      }
      if (out.hasChildShards() && !out.childShards().isEmpty()) {
        children = out.childShards().stream().map(ChildShard::shardId).sorted().toList();
      }
      iterator = out.nextShardIterator();
      if (out.records().isEmpty() && out.millisBehindLatest() == 0 && iterator != null) break;
    }
    for (int i = 1; i < records.size(); i++) {
      BigInteger a = new BigInteger((String) records.get(i - 1).get("seq"));
      BigInteger b = new BigInteger((String) records.get(i).get("seq"));
      Check.that(a.compareTo(b) < 0, shardId + ": sequence numbers ascend");
    }
    return new ShardRead(records, children);
  }

  /** Each written record was read back once, from the shard named at write time. */
  private static void checkSame(
      List<Map<String, Object>> expected, List<Map<String, Object>> read, String where) {
    Map<String, Map<String, Object>> got = new HashMap<>();
    for (var r : read) got.put(r.get("shard") + "|" + r.get("seq"), r);
    Check.equal(read.size(), got.size(), where + ": no duplicates");
    for (var w : expected) {
      var r = got.get(w.get("shard") + "|" + w.get("seq"));
      Check.that(r != null, where + ": " + w + " not read back");
      Check.equal(w.get("key"), r.get("key"), where + ": partition key");
      Check.equal(w.get("data"), r.get("data"), where + ": data");
    }
    Check.equal(expected.size(), read.size(), where + ": record count");
  }

  private Map<String, Object> putRecord(String key, String data, String ordering) {
    PutRecordResponse out =
        api.putRecord(
            r -> {
              r.streamName(stream).partitionKey(key).data(SdkBytes.fromUtf8String(data));
              if (ordering != null) r.sequenceNumberForOrdering(ordering);
            });
    Check.that(out.shardId().matches("shardId-\\d{12}"), "shard id " + out.shardId());
    Check.that(out.sequenceNumber().matches("\\d+"), "sequence number " + out.sequenceNumber());
    var w = rec(out.shardId(), key, data, out.sequenceNumber());
    written.add(w);
    return w;
  }

  /** entries: {key, data, explicitHashKey or null}. */
  private List<Map<String, Object>> putRecords(String name, List<String[]> entries) {
    List<PutRecordsRequestEntry> request = new ArrayList<>();
    for (String[] e : entries) {
      var b = PutRecordsRequestEntry.builder().partitionKey(e[0]).data(SdkBytes.fromUtf8String(e[1]));
      if (e[2] != null) b.explicitHashKey(e[2]);
      request.add(b.build());
    }
    PutRecordsResponse out = api.putRecords(r -> r.streamName(name).records(request));
    Check.equal(0, out.failedRecordCount() == null ? 0 : out.failedRecordCount(), "failed");
    Check.equal(entries.size(), out.records().size(), "PutRecords result count");
    List<Map<String, Object>> result = new ArrayList<>();
    for (int i = 0; i < entries.size(); i++) {
      PutRecordsResultEntry r = out.records().get(i);
      Check.that(r.errorCode() == null, "entry " + i + ": " + r.errorCode());
      result.add(rec(r.shardId(), entries.get(i)[0], entries.get(i)[1], r.sequenceNumber()));
    }
    if (name.equals(stream)) written.addAll(result);
    return result;
  }

  private Map<String, Object> run() {
    Map<String, Object> summary = new LinkedHashMap<>();
    summary.put("stream", stream);

    // 1. Create and wait ACTIVE.
    api.createStream(r -> r.streamName(stream).shardCount(2));
    StreamDescriptionSummary created = waitActive(stream);
    Check.equal(2, created.openShardCount(), "open shards");
    Check.that(created.streamARN().endsWith(":stream/" + stream), created.streamARN());
    var described = api.describeStream(r -> r.streamName(stream)).streamDescription();
    Check.equal(StreamStatus.ACTIVE, described.streamStatus(), "DescribeStream status");
    Check.equal(2, described.shards().size(), "DescribeStream shards");
    Check.that(described.streamCreationTimestamp() != null, "creation timestamp");

    // 2. Writes.
    var first = putRecord("pk-0", "single-0", null);
    putRecord("pk-1", "single-1", null);
    putRecord("pk-0", "single-2", (String) first.get("seq"));
    List<String[]> batch = new ArrayList<>();
    for (int i = 0; i < 20; i++) batch.add(new String[] {"batch-" + (i % 5), "batch-record-" + i, null});
    putRecords(stream, batch);

    // 3. ListShards and read everything back.
    List<Shard> shards = listShards();
    Check.equal(
        List.of("shardId-000000000000", "shardId-000000000001"),
        shards.stream().map(Shard::shardId).sorted().toList(),
        "ListShards");
    List<Map<String, Object>> before = new ArrayList<>();
    for (Shard s : shards) before.addAll(readShard(s.shardId()).records());
    checkSame(written, before, "before reshard");

    // 4. SplitShard shard 0 in the middle.
    Shard shard0 =
        shards.stream().filter(s -> s.shardId().equals("shardId-000000000000")).findFirst().get();
    BigInteger lo = new BigInteger(shard0.hashKeyRange().startingHashKey());
    BigInteger hi = new BigInteger(shard0.hashKeyRange().endingHashKey());
    BigInteger mid = lo.add(hi.subtract(lo).add(BigInteger.ONE).shiftRight(1));
    api.splitShard(
        r ->
            r.streamName(stream)
                .shardToSplit(shard0.shardId())
                .newStartingHashKey(mid.toString()));
    waitActive(stream);
    List<Shard> afterSplit = listShards();
    List<Shard> children =
        afterSplit.stream()
            .filter(s -> shard0.shardId().equals(s.parentShardId()))
            .sorted(Comparator.comparing(s -> new BigInteger(s.hashKeyRange().startingHashKey())))
            .toList();
    Check.equal(2, children.size(), "split children");
    Check.equal(mid.toString(), children.get(1).hashKeyRange().startingHashKey(), "split point");
    Shard parent =
        afterSplit.stream().filter(s -> s.shardId().equals(shard0.shardId())).findFirst().get();
    Check.that(parent.sequenceNumberRange().endingSequenceNumber() != null, "parent closed");

    var toLow =
        putRecords(
            stream,
            List.of(
                new String[] {"split-low-a", "after-split-low-a", lo.toString()},
                new String[] {"split-low-b", "after-split-low-b", mid.subtract(BigInteger.ONE).toString()}));
    var toHigh =
        putRecords(stream, List.<String[]>of(new String[] {"split-high", "after-split-high", mid.toString()}));
    for (var w : toLow) Check.equal(children.get(0).shardId(), w.get("shard"), "low child");
    Check.equal(children.get(1).shardId(), toHigh.get(0).get("shard"), "high child");
    Check.equal(
        children.stream().map(Shard::shardId).toList(),
        readShard(shard0.shardId()).children(),
        "parent's ChildShards");
    checkSame(toLow, readShard(children.get(0).shardId()).records(), "low child");
    checkSame(toHigh, readShard(children.get(1).shardId()).records(), "high child");

    // 5. MergeShards the two children.
    api.mergeShards(
        r ->
            r.streamName(stream)
                .shardToMerge(children.get(0).shardId())
                .adjacentShardToMerge(children.get(1).shardId()));
    waitActive(stream);
    Shard merged =
        listShards().stream()
            .filter(
                s ->
                    children.get(0).shardId().equals(s.parentShardId())
                        && children.get(1).shardId().equals(s.adjacentParentShardId()))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no merged shard"));
    Check.equal(lo.toString(), merged.hashKeyRange().startingHashKey(), "merged start");
    Check.equal(hi.toString(), merged.hashKeyRange().endingHashKey(), "merged end");
    var toMerged =
        putRecords(
            stream,
            List.of(
                new String[] {"merged-a", "after-merge-a", lo.toString()},
                new String[] {"merged-b", "after-merge-b", hi.toString()}));
    for (var w : toMerged) Check.equal(merged.shardId(), w.get("shard"), "merged shard");
    checkSame(toMerged, readShard(merged.shardId()).records(), "merged");
    Check.equal(
        List.of(merged.shardId()), readShard(children.get(0).shardId()).children(), "merge child");

    // 6. UpdateShardCount 2 -> 4.
    var usc =
        api.updateShardCount(
            r ->
                r.streamName(stream)
                    .targetShardCount(4)
                    .scalingType(ScalingType.UNIFORM_SCALING));
    Check.equal(2, usc.currentShardCount(), "CurrentShardCount");
    Check.equal(4, usc.targetShardCount(), "TargetShardCount");
    Check.equal(4, waitActive(stream).openShardCount(), "open shards after scaling");
    List<Shard> all = listShards();
    List<Map<String, Object>> everything = new ArrayList<>();
    for (Shard s : all) everything.addAll(readShard(s.shardId()).records());
    checkSame(written, everything, "after resharding");
    summary.put("shards", all.size());
    summary.put(
        "open_shards",
        all.stream().filter(s -> s.sequenceNumberRange().endingSequenceNumber() == null).count());
    summary.put("records_written", written.size());
    summary.put("records_read", everything.size());

    // 7. The error as the SDK surfaces it.
    try {
      api.describeStreamSummary(r -> r.streamName(stream + "-no-such-stream"));
      throw new AssertionError("DescribeStreamSummary of a missing stream succeeded");
    } catch (ResourceNotFoundException e) {
      Check.equal(400, e.statusCode(), "error status");
      Check.equal("ResourceNotFoundException", e.awsErrorDetails().errorCode(), "error code");
      Check.that(e.requestId() != null, "request id present");
      Check.that(e.awsErrorDetails().errorMessage().contains("-no-such-stream"), e.getMessage());
      Map<String, Object> err = new LinkedHashMap<>();
      err.put("code", e.awsErrorDetails().errorCode());
      err.put("status", e.statusCode());
      err.put("message", e.awsErrorDetails().errorMessage());
      summary.put("error", err);
    }

    // 8. DeleteStream until DescribeStreamSummary says ResourceNotFound.
    api.deleteStream(r -> r.streamName(stream));
    long deadline = System.nanoTime() + WAIT.toNanos();
    boolean gone = false;
    while (!gone) {
      try {
        api.describeStreamSummary(r -> r.streamName(stream));
        Check.that(System.nanoTime() < deadline, "stream not deleted in time");
        sleep(100);
      } catch (ResourceNotFoundException e) {
        gone = true;
      }
    }
    summary.put("deleted", true);

    // 9. A stream that stays, for boto3 to read back.
    String kept = stream + "-kept";
    api.createStream(r -> r.streamName(kept).shardCount(1));
    waitActive(kept);
    List<String[]> keptEntries = new ArrayList<>();
    for (int i = 0; i < 3; i++) keptEntries.add(new String[] {"kept-" + i, "kept-data-" + i, null});
    Map<String, Object> keptSummary = new LinkedHashMap<>();
    keptSummary.put("stream", kept);
    keptSummary.put("records", putRecords(kept, keptEntries));
    summary.put("kept", keptSummary);
    log("scenario done on " + stream);
    return summary;
  }
}
