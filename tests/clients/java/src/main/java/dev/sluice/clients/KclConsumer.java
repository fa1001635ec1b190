package dev.sluice.clients;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.Protocol;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.cloudwatch.CloudWatchAsyncClient;
import software.amazon.awssdk.services.dynamodb.DynamoDbAsyncClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeDefinition;
import software.amazon.awssdk.services.dynamodb.model.BillingMode;
import software.amazon.awssdk.services.dynamodb.model.GlobalSecondaryIndex;
import software.amazon.awssdk.services.dynamodb.model.IndexStatus;
import software.amazon.awssdk.services.dynamodb.model.KeySchemaElement;
import software.amazon.awssdk.services.dynamodb.model.KeyType;
import software.amazon.awssdk.services.dynamodb.model.ProjectionType;
import software.amazon.awssdk.services.dynamodb.model.ScalarAttributeType;
import software.amazon.awssdk.services.dynamodb.model.TableDescription;
import software.amazon.awssdk.services.dynamodb.model.TableStatus;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClientBuilder;
import software.amazon.kinesis.common.ConfigsBuilder;
import software.amazon.kinesis.common.InitialPositionInStream;
import software.amazon.kinesis.common.InitialPositionInStreamExtended;
import software.amazon.kinesis.common.KinesisClientUtil;
import software.amazon.kinesis.coordinator.Scheduler;
import software.amazon.kinesis.exceptions.InvalidStateException;
import software.amazon.kinesis.exceptions.ShutdownException;
import software.amazon.kinesis.lifecycle.events.InitializationInput;
import software.amazon.kinesis.lifecycle.events.LeaseLostInput;
import software.amazon.kinesis.lifecycle.events.ProcessRecordsInput;
import software.amazon.kinesis.lifecycle.events.ShardEndedInput;
import software.amazon.kinesis.lifecycle.events.ShutdownRequestedInput;
import software.amazon.kinesis.metrics.MetricsLevel;
import software.amazon.kinesis.metrics.NullMetricsFactory;
import software.amazon.kinesis.processor.ShardRecordProcessor;
import software.amazon.kinesis.processor.SingleStreamTracker;
import software.amazon.kinesis.retrieval.KinesisClientRecord;
import software.amazon.kinesis.retrieval.polling.PollingConfig;

/**
 * A Kinesis Client Library (KCL) consumer of one Sluice stream, in polling mode, with its
 * leases in a DynamoDB-compatible server and CloudWatch metrics off.
 *
 * <pre>
 *   java -cp ... dev.sluice.clients.KclConsumer --kinesis-endpoint http://127.0.0.1:P1
 *        --dynamodb-endpoint http://127.0.0.1:P2 --stream NAME [--app NAME] [--kinesis-http1]
 * </pre>
 *
 * It prints one JSON object per line on stdout, as things happen: {"event":"worker",
 * "state":...} for the scheduler's states, {"event":"initialize","shard":...}, one
 * {"event":"record","shard","key","data","seq"} per record handed to the processor,
 * {"event":"shard_end","shard":...} when a closed shard is finished (after its checkpoint),
 * {"event":"lease_lost",...}, and {"event":"stopped","clean":bool,...} last, with the
 * Content-Types of the Kinesis requests and responses KCL exchanged. It stops gracefully
 * when stdin reaches end of file (or a line "stop"), and exits 0 only if that shutdown
 * completed. The caller (tests/e2e/test_clients.py) decides what it should have seen.
 *
 * --create-lease-table creates KCL's lease table (named after the application) before KCL
 * starts, exactly as KCL 3 would lay it out, global secondary index included. dynalite needs
 * this: KCL 3 adds the index to an existing table with UpdateTable, which dynalite 4.0.0
 * accepts but ignores (its UpdateTable only changes throughput), so the index never shows in
 * DescribeTable and KCL's initialisation fails. Given an existing table with the index, KCL
 * uses it as it is.
 *
 * The Kinesis client is the one KCL recommends (KinesisClientUtil: Netty, HTTP/2, which Sluice
 * serves as h2c over http://); --kinesis-http1 switches it to HTTP/1.1 for debugging.
 */
public final class KclConsumer {
  private KclConsumer() {}

  static void emit(Map<String, Object> event) {
    synchronized (System.out) {
      System.out.println(Json.write(event));
      System.out.flush();
    }
  }

  static Map<String, Object> event(String name, String shard) {
    Map<String, Object> e = new LinkedHashMap<>();
    e.put("event", name);
    if (shard != null) e.put("shard", shard);
    return e;
  }

  /** One per shard lease, created by KCL; KCL calls it from one thread at a time. */
  static final class Processor implements ShardRecordProcessor {
    private String shardId;

    @Override
    public void initialize(InitializationInput input) {
      shardId = input.shardId();
      var e = event("initialize", shardId);
      e.put("checkpoint", String.valueOf(input.extendedSequenceNumber()));
      emit(e);
    }

    @Override
    public void processRecords(ProcessRecordsInput input) {
      for (KinesisClientRecord r : input.records()) {
        ByteBuffer data = r.data().duplicate();
        byte[] bytes = new byte[data.remaining()];
        data.get(bytes);
        var e = event("record", shardId);
        e.put("key", r.partitionKey());
        e.put("data", new String(bytes, StandardCharsets.UTF_8));
        e.put("seq", r.sequenceNumber());
        emit(e);
      }
      if (!input.records().isEmpty()) {
        try {
          input.checkpointer().checkpoint();
        } catch (InvalidStateException | ShutdownException ex) {
          emit(error("checkpoint", ex));
        }
      }
    }

    @Override
    public void leaseLost(LeaseLostInput input) {
      emit(event("lease_lost", shardId));
    }

    @Override
    public void shardEnded(ShardEndedInput input) {
      try {
        input.checkpointer().checkpoint();  // required: lets KCL start the children
        emit(event("shard_end", shardId));
      } catch (InvalidStateException | ShutdownException ex) {
        emit(error("shard_end_checkpoint", ex));
      }
    }

    @Override
    public void shutdownRequested(ShutdownRequestedInput input) {
      try {
        input.checkpointer().checkpoint();
      } catch (InvalidStateException | ShutdownException ex) {
        emit(error("shutdown_checkpoint", ex));
      }
      emit(event("shutdown_requested", shardId));
    }
  }

  static Map<String, Object> error(String where, Exception ex) {
    var e = event("error", null);
    e.put("where", where);
    e.put("message", String.valueOf(ex));
    return e;
  }

  /** KCL 3's lease table: key leaseKey, index LeaseOwnerToLeaseKeyIndex(leaseOwner, leaseKey). */
  static void createLeaseTable(DynamoDbAsyncClient dynamo, String table) throws Exception {
    dynamo
        .createTable(
            r ->
                r.tableName(table)
                    .billingMode(BillingMode.PAY_PER_REQUEST)
                    .attributeDefinitions(
                        AttributeDefinition.builder()
                            .attributeName("leaseKey")
                            .attributeType(ScalarAttributeType.S)
                            .build(),
                        AttributeDefinition.builder()
                            .attributeName("leaseOwner")
                            .attributeType(ScalarAttributeType.S)
                            .build())
                    .keySchema(key("leaseKey", KeyType.HASH))
                    .globalSecondaryIndexes(
                        GlobalSecondaryIndex.builder()
                            .indexName("LeaseOwnerToLeaseKeyIndex")
                            .keySchema(
                                key("leaseOwner", KeyType.HASH), key("leaseKey", KeyType.RANGE))
                            .projection(p -> p.projectionType(ProjectionType.KEYS_ONLY))
                            .build()))
        .get(10, TimeUnit.SECONDS);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      TableDescription t =
          dynamo.describeTable(r -> r.tableName(table)).get(10, TimeUnit.SECONDS).table();
      if (t.tableStatus() == TableStatus.ACTIVE
          && t.globalSecondaryIndexes().stream()
              .allMatch(i -> i.indexStatus() == IndexStatus.ACTIVE)) {
        break;
      }
      Check.that(System.nanoTime() < deadline, "lease table " + table + " not ACTIVE in time");
      Thread.sleep(50);
    }
    var e = event("lease_table_created", null);
    e.put("table", table);
    emit(e);
  }

  private static KeySchemaElement key(String name, KeyType type) {
    return KeySchemaElement.builder().attributeName(name).keyType(type).build();
  }

  public static void main(String[] args) throws Exception {
    String kinesisEndpoint = null;
    String dynamoEndpoint = null;
    String stream = null;
    String app = "sluice-kcl-" + UUID.randomUUID().toString().substring(0, 8);
    boolean kinesisHttp1 = false;
    boolean createLeaseTable = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--kinesis-endpoint" -> kinesisEndpoint = args[++i];
        case "--dynamodb-endpoint" -> dynamoEndpoint = args[++i];
        case "--stream" -> stream = args[++i];
        case "--app" -> app = args[++i];
        case "--kinesis-http1" -> kinesisHttp1 = true;
        case "--create-lease-table" -> createLeaseTable = true;
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    Check.that(kinesisEndpoint != null && dynamoEndpoint != null && stream != null,
        "--kinesis-endpoint, --dynamodb-endpoint and --stream are required");

    var credentials =
        StaticCredentialsProvider.create(
            AwsBasicCredentials.create("AKIDSLUICETEST", "sluice-test-secret"));
    // Records what went over the wire, reported in the last event.
    KinesisScenario.ContentTypes wire = new KinesisScenario.ContentTypes();
    KinesisAsyncClientBuilder kb =
        KinesisAsyncClient.builder()
            .endpointOverride(URI.create(kinesisEndpoint))
            .region(Region.US_EAST_1)
            .credentialsProvider(credentials)
            .overrideConfiguration(o -> o.addExecutionInterceptor(wire));
    KinesisAsyncClient kinesis =
        kinesisHttp1
            ? kb.httpClientBuilder(NettyNioAsyncHttpClient.builder().protocol(Protocol.HTTP1_1))
                .build()
            : KinesisClientUtil.createKinesisAsyncClient(kb);
    DynamoDbAsyncClient dynamo =
        DynamoDbAsyncClient.builder()
            .endpointOverride(URI.create(dynamoEndpoint))
            .region(Region.US_EAST_1)
            .credentialsProvider(credentials)
            .build();
    // KCL wants a CloudWatch client even with metrics off; it is never called (the metrics
    // factory below is the null one), and points at the DynamoDB stand-in so that a stray
    // call would fail fast on localhost rather than go anywhere else.
    CloudWatchAsyncClient cloudWatch =
        CloudWatchAsyncClient.builder()
            .endpointOverride(URI.create(dynamoEndpoint))
            .region(Region.US_EAST_1)
            .credentialsProvider(credentials)
            .build();

    if (createLeaseTable) createLeaseTable(dynamo, app);

    var tracker =
        new SingleStreamTracker(
            stream,
            InitialPositionInStreamExtended.newInitialPosition(InitialPositionInStream.TRIM_HORIZON));
    ConfigsBuilder configs =
        new ConfigsBuilder(
            tracker, app, kinesis, dynamo, cloudWatch, "worker-" + app, Processor::new);

    // Short intervals: the defaults are tuned for real AWS (seconds to a minute) and would
    // make the test wait on timers rather than on Sluice.
    var coordinator =
        configs.coordinatorConfig()
            .parentShardPollIntervalMillis(200)
            .shardConsumerDispatchPollIntervalMillis(100)
            .schedulerInitializationBackoffTimeMillis(200)
            .workerStateChangeListener(
                state -> {
                  var e = event("worker", null);
                  e.put("state", state.name());
                  emit(e);
                });
    var leases =
        configs.leaseManagementConfig()
            // Leases renewed every ~2 s and expired after 6 s: short enough for a test, long
            // enough that a busy machine does not make KCL drop and retake its own leases.
            .failoverTimeMillis(6000)
            // The leader assigns new (child) leases every second rather than every 12 s.
            .leaseAssignmentIntervalMillis(1000L)
            .shardSyncIntervalMillis(1000)
            .listShardsBackoffTimeInMillis(200)
            // KCL looks shards up in a cached ListShards result; refresh it soon after a
            // reshard instead of warning on every poll of a child it does not know yet.
            .listShardsCacheAllowedAgeInSeconds(1);
    leases.workerUtilizationAwareAssignmentConfig()
        .workerMetricsReporterFreqInMillis(1000)
        .inMemoryWorkerMetricsCaptureFrequencyMillis(200);
    var retrieval =
        configs.retrievalConfig()
            .retrievalSpecificConfig(
                new PollingConfig(stream, kinesis).idleTimeBetweenReadsInMillis(200));
    var metrics =
        configs.metricsConfig().metricsLevel(MetricsLevel.NONE).metricsFactory(new NullMetricsFactory());

    Scheduler scheduler =
        new Scheduler(
            configs.checkpointConfig(),
            coordinator,
            leases,
            configs.lifecycleConfig(),
            metrics,
            configs.processorConfig(),
            retrieval);
    Thread worker = new Thread(scheduler, "kcl-scheduler");
    worker.setDaemon(true);
    worker.start();

    // Wait for end of input (or "stop"), then shut down gracefully, bounded.
    try (var in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null) {
        if (line.trim().equals("stop")) break;
      }
    }
    boolean clean;
    try {
      clean = scheduler.startGracefulShutdown().get(50, TimeUnit.SECONDS);
    } catch (Exception ex) {
      emit(error("graceful_shutdown", ex));
      clean = false;
    }
    var stopped = event("stopped", null);
    stopped.put("clean", clean);
    stopped.put("request_content_types", new ArrayList<>(wire.requests));
    stopped.put("response_content_types", new ArrayList<>(wire.responses));
    emit(stopped);
    System.exit(clean ? 0 : 2);
  }
}
