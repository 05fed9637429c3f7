// Runs Apache Kafka's own MM2 client, RemoteClusterUtils.translateOffsets, against a cluster
// and prints the translated offsets of a consumer group, one "topic partition offset" line per
// partition, sorted by topic, then partition.
//
// Usage: java -cp "<classes>:<kafka libs>/*" TranslateOffsets <bootstrap> <remoteAlias> <group>
//
// Compiled and run by tests/integration/remote_cluster_utils.rs.

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.mirror.RemoteClusterUtils;

public final class TranslateOffsets {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: TranslateOffsets <bootstrap> <remoteAlias> <group>");
            System.exit(2);
        }
        String bootstrap = args[0];
        String remoteAlias = args[1];
        String group = args[2];
        Map<TopicPartition, OffsetAndMetadata> translated = RemoteClusterUtils.translateOffsets(
                Map.of("bootstrap.servers", bootstrap), remoteAlias, group, Duration.ofSeconds(30));
        List<Map.Entry<TopicPartition, OffsetAndMetadata>> entries =
                new ArrayList<>(translated.entrySet());
        entries.sort(Comparator
                .comparing((Map.Entry<TopicPartition, OffsetAndMetadata> e) -> e.getKey().topic())
                .thenComparingInt(e -> e.getKey().partition()));
        StringBuilder out = new StringBuilder();
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : entries) {
            out.append(e.getKey().topic())
                    .append(' ')
                    .append(e.getKey().partition())
                    .append(' ')
                    .append(e.getValue().offset())
                    .append('\n');
        }
        System.out.print(out);
        System.out.flush();
        System.exit(0);
    }
}
