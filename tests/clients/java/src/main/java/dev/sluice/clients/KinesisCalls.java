package dev.sluice.clients;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.CreateStreamRequest;
import software.amazon.awssdk.services.kinesis.model.CreateStreamResponse;
import software.amazon.awssdk.services.kinesis.model.DeleteStreamRequest;
import software.amazon.awssdk.services.kinesis.model.DeleteStreamResponse;
import software.amazon.awssdk.services.kinesis.model.DescribeStreamRequest;
import software.amazon.awssdk.services.kinesis.model.DescribeStreamResponse;
import software.amazon.awssdk.services.kinesis.model.DescribeStreamSummaryRequest;
import software.amazon.awssdk.services.kinesis.model.DescribeStreamSummaryResponse;
import software.amazon.awssdk.services.kinesis.model.GetRecordsRequest;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.kinesis.model.GetShardIteratorResponse;
import software.amazon.awssdk.services.kinesis.model.ListShardsRequest;
import software.amazon.awssdk.services.kinesis.model.ListShardsResponse;
import software.amazon.awssdk.services.kinesis.model.MergeShardsRequest;
import software.amazon.awssdk.services.kinesis.model.MergeShardsResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordRequest;
import software.amazon.awssdk.services.kinesis.model.PutRecordResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequest;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.SplitShardRequest;
import software.amazon.awssdk.services.kinesis.model.SplitShardResponse;
import software.amazon.awssdk.services.kinesis.model.UpdateShardCountRequest;
import software.amazon.awssdk.services.kinesis.model.UpdateShardCountResponse;

/**
 * The Kinesis calls the scenario makes (in the SDK's request-builder form), so that one
 * scenario runs over the synchronous client and over the asynchronous one. Async calls are awaited and their CompletionException is
 * unwrapped, so both throw the SDK's own exception types. Owns nothing: the caller closes the
 * SDK client it passed in.
 */
interface KinesisCalls {
  CreateStreamResponse createStream(Consumer<CreateStreamRequest.Builder> r);

  DescribeStreamResponse describeStream(Consumer<DescribeStreamRequest.Builder> r);

  DescribeStreamSummaryResponse describeStreamSummary(Consumer<DescribeStreamSummaryRequest.Builder> r);

  PutRecordResponse putRecord(Consumer<PutRecordRequest.Builder> r);

  PutRecordsResponse putRecords(Consumer<PutRecordsRequest.Builder> r);

  ListShardsResponse listShards(Consumer<ListShardsRequest.Builder> r);

  GetShardIteratorResponse getShardIterator(Consumer<GetShardIteratorRequest.Builder> r);

  GetRecordsResponse getRecords(Consumer<GetRecordsRequest.Builder> r);

  SplitShardResponse splitShard(Consumer<SplitShardRequest.Builder> r);

  MergeShardsResponse mergeShards(Consumer<MergeShardsRequest.Builder> r);

  UpdateShardCountResponse updateShardCount(Consumer<UpdateShardCountRequest.Builder> r);

  DeleteStreamResponse deleteStream(Consumer<DeleteStreamRequest.Builder> r);

  static KinesisCalls of(KinesisClient c) {
    return new KinesisCalls() {
      public CreateStreamResponse createStream(Consumer<CreateStreamRequest.Builder> r) {
        return c.createStream(r);
      }

      public DescribeStreamResponse describeStream(Consumer<DescribeStreamRequest.Builder> r) {
        return c.describeStream(r);
      }

      public DescribeStreamSummaryResponse describeStreamSummary(Consumer<DescribeStreamSummaryRequest.Builder> r) {
        return c.describeStreamSummary(r);
      }

      public PutRecordResponse putRecord(Consumer<PutRecordRequest.Builder> r) {
        return c.putRecord(r);
      }

      public PutRecordsResponse putRecords(Consumer<PutRecordsRequest.Builder> r) {
        return c.putRecords(r);
      }

      public ListShardsResponse listShards(Consumer<ListShardsRequest.Builder> r) {
        return c.listShards(r);
      }

      public GetShardIteratorResponse getShardIterator(Consumer<GetShardIteratorRequest.Builder> r) {
        return c.getShardIterator(r);
      }

      public GetRecordsResponse getRecords(Consumer<GetRecordsRequest.Builder> r) {
        return c.getRecords(r);
      }

      public SplitShardResponse splitShard(Consumer<SplitShardRequest.Builder> r) {
        return c.splitShard(r);
      }

      public MergeShardsResponse mergeShards(Consumer<MergeShardsRequest.Builder> r) {
        return c.mergeShards(r);
      }

      public UpdateShardCountResponse updateShardCount(Consumer<UpdateShardCountRequest.Builder> r) {
        return c.updateShardCount(r);
      }

      public DeleteStreamResponse deleteStream(Consumer<DeleteStreamRequest.Builder> r) {
        return c.deleteStream(r);
      }
    };
  }

  static KinesisCalls of(KinesisAsyncClient c) {
    return new KinesisCalls() {
      public CreateStreamResponse createStream(Consumer<CreateStreamRequest.Builder> r) {
        return await(c.createStream(r));
      }

      public DescribeStreamResponse describeStream(Consumer<DescribeStreamRequest.Builder> r) {
        return await(c.describeStream(r));
      }

      public DescribeStreamSummaryResponse describeStreamSummary(Consumer<DescribeStreamSummaryRequest.Builder> r) {
        return await(c.describeStreamSummary(r));
      }

      public PutRecordResponse putRecord(Consumer<PutRecordRequest.Builder> r) {
        return await(c.putRecord(r));
      }

      public PutRecordsResponse putRecords(Consumer<PutRecordsRequest.Builder> r) {
        return await(c.putRecords(r));
      }

      public ListShardsResponse listShards(Consumer<ListShardsRequest.Builder> r) {
        return await(c.listShards(r));
      }

      public GetShardIteratorResponse getShardIterator(Consumer<GetShardIteratorRequest.Builder> r) {
        return await(c.getShardIterator(r));
      }

      public GetRecordsResponse getRecords(Consumer<GetRecordsRequest.Builder> r) {
        return await(c.getRecords(r));
      }

      public SplitShardResponse splitShard(Consumer<SplitShardRequest.Builder> r) {
        return await(c.splitShard(r));
      }

      public MergeShardsResponse mergeShards(Consumer<MergeShardsRequest.Builder> r) {
        return await(c.mergeShards(r));
      }

      public UpdateShardCountResponse updateShardCount(Consumer<UpdateShardCountRequest.Builder> r) {
        return await(c.updateShardCount(r));
      }

      public DeleteStreamResponse deleteStream(Consumer<DeleteStreamRequest.Builder> r) {
        return await(c.deleteStream(r));
      }
    };
  }

  private static <T> T await(CompletableFuture<T> future) {
    try {
      return future.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException cause) throw cause;
      throw e;
    }
  }
}
