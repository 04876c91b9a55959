// The module's example job: per-user next-event anomaly scores from a small GRU, on a local Flink
// MiniCluster. Trains the GRU (a few seconds), saves it as safetensors, then streams every user's
// events through the rnn4j operator and scores each event by its surprisal under the GRU's
// prediction from the user's previous events.
package dev.rnn4j.flink.example;

import dev.rnn4j.Device;
import dev.rnn4j.flink.ModelSource;
import dev.rnn4j.flink.ModelSpec;
import dev.rnn4j.flink.RecurrentInference;
import dev.rnn4j.flink.StreamingModel;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * {@code AnomalyScores [--users N] [--events N] [--max-batch N] [--backend NAME] [--model FILE] [--parallelism N]}:
 * with {@code --model} it loads that file instead of training (and saving to
 * {@code target/example/gru.safetensors}).
 */
public final class AnomalyScores {
    /** One user event, a Flink POJO. */
    public static class UserEvent {
        public int user, seq, type;
        public boolean injected;

        public UserEvent() {}

        UserEvent(int user, int seq, int type, boolean injected) {
            this.user = user;
            this.seq = seq;
            this.type = type;
            this.injected = injected;
        }
    }

    /** An event's score: its surprisal (nats) under the prediction from the user's previous events. */
    public static class Score {
        public int user, seq, type;
        public boolean injected;
        public float surprisal;

        public Score() {}

        Score(UserEvent e, float surprisal) {
            user = e.user;
            seq = e.seq;
            type = e.type;
            injected = e.injected;
            this.surprisal = surprisal;
        }
    }

    public static void main(String[] args) throws Exception {
        int users = 500, events = 40, maxBatch = 64, parallelism = 2;
        String backend = null;
        Path model = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--users" -> users = Integer.parseInt(args[++i]);
                case "--events" -> events = Integer.parseInt(args[++i]);
                case "--max-batch" -> maxBatch = Integer.parseInt(args[++i]);
                case "--backend" -> backend = args[++i];
                case "--model" -> model = Path.of(args[++i]);
                case "--parallelism" -> parallelism = Integer.parseInt(args[++i]);
                default -> {
                    System.err.println("usage: AnomalyScores [--users N] [--events N] [--max-batch N] [--backend NAME] [--model FILE] [--parallelism N]");
                    System.exit(2);
                }
            }
        }
        String be = backend != null ? backend : ModelSource.defaultBackend();
        if (model == null) {
            ModelSpec spec = ModelSpec.of(ModelSpec.Kind.GRU, 8, 24, 1).withEmbedding(UserEvents.V).withOutput(UserEvents.V).withPreviousOutput(true);
            model = Path.of("target", "example", "gru.safetensors");
            Files.createDirectories(model.getParent());
            long t0 = System.nanoTime();
            try (Device d = Device.open(be); StreamingModel m = StreamingModel.create(d, spec, 1)) {
                double loss = NextEventTrainer.train(m, new UserEvents(400, 64, 0.02, 99), 300, 32, 24, 2f, 7);
                m.save(model);
                System.out.printf("trained %s on %s: next-event loss %.3f nats after 300 batches (%.1f s); saved %s%n",
                        m, be, loss, (System.nanoTime() - t0) / 1e9, model);
            }
        }

        UserEvents data = new UserEvents(users, events, 0.02, 2026);
        int u = users, n = users * events;
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(parallelism);
        env.enableCheckpointing(1000);
        // Event i is step i / users of user i % users: every user's events in order, users interleaved.
        DataGeneratorSource<UserEvent> gen = new DataGeneratorSource<>(
                i -> new UserEvent((int) (i % u), (int) (i / u), data.types[(int) (i % u)][(int) (i / u)], data.injected[(int) (i % u)][(int) (i / u)]),
                n, TypeInformation.of(UserEvent.class));
        var stream = env.fromSource(gen, WatermarkStrategy.noWatermarks(), "user events").setParallelism(1);
        var scores = RecurrentInference.on(stream.keyBy(e -> e.user, Types.INT), ModelSource.file(model, null).onBackend(be))
                .tokens(e -> e.type)
                .maxBatch(maxBatch)
                .maxLatency(Duration.ofMillis(20))
                .apply((e, out, prev) -> new Score(e, e.seq == 0 ? 0f : surprisal(prev, e.type)), TypeInformation.of(Score.class))
                .uid("rnn4j-gru");
        long t0 = System.nanoTime();
        List<Score> all = scores.executeAndCollect("rnn4j next-event anomaly scores", n);
        double secs = (System.nanoTime() - t0) / 1e9;

        List<Score> scored = new ArrayList<>(all.stream().filter(s -> s.seq > 0).toList());
        long injected = scored.stream().filter(s -> s.injected).count();
        double meanNormal = scored.stream().filter(s -> !s.injected).mapToDouble(s -> s.surprisal).average().orElse(0);
        double meanInjected = scored.stream().filter(s -> s.injected).mapToDouble(s -> s.surprisal).average().orElse(0);
        scored.sort(Comparator.comparingDouble((Score s) -> -s.surprisal));
        long hits = scored.stream().limit(injected).filter(s -> s.injected).count();
        System.out.printf("scored %d events of %d users on %s (max batch %d, parallelism %d) in %.1f s with the job's start-up%n",
                all.size(), users, be, maxBatch, parallelism, secs);
        System.out.printf("mean surprisal: normal events %.2f nats, injected anomalies %.2f nats; %d of the top %d scores are injected anomalies%n",
                meanNormal, meanInjected, hits, injected);
        System.out.println("top 10:");
        for (Score s : scored.subList(0, Math.min(10, scored.size())))
            System.out.printf("  user %4d  event %3d  %-8s -> %-8s  %6.2f nats%s%n", s.user, s.seq,
                    UserEvents.TYPES[data.types[s.user][s.seq - 1]], UserEvents.TYPES[s.type], s.surprisal, s.injected ? "  (injected)" : "");
    }

    /** -log softmax(logits)[type], in nats. */
    static float surprisal(float[] logits, int type) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (float z : logits) max = Math.max(max, z);
        for (float z : logits) sum += Math.exp(z - max);
        return (float) (max + Math.log(sum) - logits[type]);
    }
}
