// The operator in Flink's BATCH execution mode scores a bounded file of sequences: one output per
// sequence, equal (bitwise, reference backend) to the sequence's offline run.
package dev.rnn4j.flink;

import dev.rnn4j.Device;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.connector.file.src.FileSource;
import org.apache.flink.connector.file.src.reader.TextLineInputFormat;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.Collector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class BatchModeTest {
    static final int VOCAB = 13;

    @Test
    void scoresABoundedFileOfSequencesOneOutputEach(@TempDir Path dir) throws Exception {
        ModelSpec spec = ModelSpec.of(ModelSpec.Kind.GRU, 5, 8, 2).withEmbedding(VOCAB).withOutput(VOCAB);
        // A class path resource this time (the other tests load files).
        Path model = ModelFiles.writeTestResource("batch-gru.safetensors", spec, 9);
        // One sequence per line: "<id>\t<token> <token> ...", of 1 to 40 tokens.
        SplittableRandom r = new SplittableRandom(5);
        Map<Integer, int[]> seqs = new HashMap<>();
        List<String> lines = new ArrayList<>();
        for (int id = 0; id < 60; id++) {
            int[] t = new int[1 + r.nextInt(40)];
            StringBuilder s = new StringBuilder().append(id).append('\t');
            for (int i = 0; i < t.length; i++) {
                t[i] = r.nextInt(VOCAB);
                s.append(i == 0 ? "" : " ").append(t[i]);
            }
            seqs.put(id, t);
            lines.add(s.toString());
        }
        Path file = Files.write(dir.resolve("sequences.tsv"), lines);

        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(2);
        env.setRuntimeMode(RuntimeExecutionMode.BATCH);
        FileSource<String> src = FileSource.forRecordStreamFormat(new TextLineInputFormat(), new org.apache.flink.core.fs.Path(file.toUri())).build();
        // BATCH mode sorts a keyed input by key and timestamp: the step index as timestamp keeps each sequence in order.
        var events = env.fromSource(src, WatermarkStrategy.noWatermarks(), "sequences")
                .flatMap((String line, Collector<Event> out) -> {
                    String[] parts = line.split("\t");
                    int id = Integer.parseInt(parts[0]);
                    String[] toks = parts[1].split(" ");
                    for (int i = 0; i < toks.length; i++) out.collect(new Event(id, i, null, Integer.parseInt(toks[i])));
                }).returns(Event.class)
                .assignTimestampsAndWatermarks(WatermarkStrategy.<Event>noWatermarks().withTimestampAssigner((e, ts) -> e.seq));
        List<Scored> last = RecurrentInference.on(events.keyBy(e -> e.key, Types.INT), ModelSource.resource("batch-gru.safetensors", null).onBackend("reference"))
                .tokens(e -> e.token)
                .maxBatch(16)
                .apply((e, out, prev) -> new Scored(e.key, e.seq, out), TypeInformation.of(Scored.class))
                .keyBy(s -> s.key, Types.INT)
                .reduce((a, b) -> b.seq > a.seq ? b : a)
                .executeAndCollect(1000);

        assertEquals(seqs.size(), last.size(), "one output per sequence");
        try (Device d = Device.reference(); StreamingModel m = StreamingModel.load(d, model)) {
            for (Scored s : last) {
                int[] t = seqs.get(s.key);
                assertEquals(t.length - 1, s.seq, "the last step of sequence " + s.key);
                float[][] want = m.sequence(null, t);
                float[] w = want[t.length - 1];
                for (int i = 0; i < w.length; i++)
                    assertEquals(Float.floatToRawIntBits(w[i]), Float.floatToRawIntBits(s.output[i]), "sequence " + s.key + " element " + i);
            }
        }
    }
}
