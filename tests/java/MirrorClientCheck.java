// What Java's MirrorMaker 2 client library (connect-mirror-client) reads from a cluster, printed
// one fact a line, for tests/interop.rs to compare with connect-mirror-maker's own answers:
//   offset <topic> <partition> <offset>   RemoteClusterUtils.translateOffsets(source, group)
//   upstream <alias> <hops>               RemoteClusterUtils.upstreamClusters, replicationHops
// Usage: java -cp '<kafka libs>/*' MirrorClientCheck.java translate BOOTSTRAP SOURCE_ALIAS GROUP
//        java -cp '<kafka libs>/*' MirrorClientCheck.java upstream BOOTSTRAP
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.mirror.RemoteClusterUtils;

public class MirrorClientCheck {
    public static void main(String[] args) throws Exception {
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", args[1]);
        if (args[0].equals("translate")) {
            Map<TopicPartition, OffsetAndMetadata> offsets =
                RemoteClusterUtils.translateOffsets(props, args[2], args[3], Duration.ofSeconds(60));
            Map<String, Long> sorted = new TreeMap<>();
            offsets.forEach((tp, o) -> sorted.put(tp.topic() + " " + tp.partition(), o.offset()));
            sorted.forEach((tp, o) -> System.out.println("offset " + tp + " " + o));
        } else {
            for (String upstream : new java.util.TreeSet<>(RemoteClusterUtils.upstreamClusters(props))) {
                System.out.println("upstream " + upstream + " " + RemoteClusterUtils.replicationHops(props, upstream));
            }
        }
    }
}
