package dev.rnn4j.bench;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.RunResult;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Turns the JMH results of one {@link Suite} run into the report: a Markdown table of time per
 * call and tokens/s, the ratios the project tracks (SRU vs LSTM, rnn4j vs ONNX Runtime, SRU
 * forward vs its lower bound, the SRU recurrence's bandwidth), the machine's SGEMM and copy
 * figures, and a PNG chart of tokens/s by model and shape. Written to report.md and chart.png
 * in the output directory, and printed.
 */
final class Report {
    /** One measured benchmark: time per call in ms with JMH's 99.9% error. */
    record Row(String bench, String model, String engine, String shape, String mode, double ms, double err) {}

    private final boolean full;
    private final List<Row> rows = new ArrayList<>();
    private String machine = "", loadBefore = "", loadAfter = "", date = LocalDate.now().toString();

    Report(boolean full) { this.full = full; }

    void machine(String m) { machine = m; }

    String machine() { return machine; }

    void loadBefore(String l) { loadBefore = l; }

    void loadAfter(String l) { loadAfter = l; }

    void add(List<RunResult> results) {
        for (RunResult r : results) {
            BenchmarkParams p = r.getParams();
            String name = p.getBenchmark();
            String cls = name.substring(0, name.lastIndexOf('.')), method = name.substring(name.lastIndexOf('.') + 1);
            cls = cls.substring(cls.lastIndexOf('.') + 1);
            double ms = r.getPrimaryResult().getScore(), err = r.getPrimaryResult().getScoreError();
            switch (cls) {
                case "LayerBench" -> rows.add(new Row(cls, p.getParam("model"), p.getParam("backend"), p.getParam("shape"),
                        method.equals("forward") ? "fwd" : "fwd+bwd", ms, err));
                case "OrtBench" -> rows.add(new Row(cls, p.getParam("model"), "onnxruntime", p.getParam("shape"), "fwd", ms, err));
                case "SruKernelBench" -> rows.add(new Row(cls, "SRU", p.getParam("backend"), p.getParam("shape"), "kernel", ms, err));
                case "LmBench" -> rows.add(new Row(cls, "SRU-LM", p.getParam("backend"), "35x32x910", "train step", ms, err));
                case "MachineBench" -> rows.add(new Row(cls, method, "openblas", method.equals("sgemm") ? p.getParam("mnk") : "-",
                        method, ms, err));
                default -> { }
            }
        }
    }

    /** The SGEMM shapes "MxNxK" of the layers at these layer shapes (input projections and per-step products). */
    static String[] gemmShapes(List<String> shapes) {
        Set<String> out = new LinkedHashSet<>();
        for (String sh : shapes) {
            Shape s = Shape.parse(sh);
            long tb = s.tokens();
            int d = s.width();
            out.add(tb + "x" + 3 * d + "x" + d);          // SRU U = X W, GRU input projection
            out.add(tb + "x" + 4 * d + "x" + d);          // LSTM input projection
            out.add(s.batch() + "x" + 4 * d + "x" + d);   // LSTM step
            out.add(s.batch() + "x" + 3 * d + "x" + d);   // GRU step
        }
        return out.toArray(String[]::new);
    }

    private Optional<Row> find(String bench, String model, String engine, String shape, String mode) {
        return rows.stream().filter(r -> r.bench.equals(bench) && r.model.equals(model) && r.engine.equals(engine)
                && r.shape.equals(shape) && r.mode.equals(mode)).findFirst();
    }

    private List<String> shapes() {
        Set<String> s = new LinkedHashSet<>();
        for (String sh : Shape.ALL) if (rows.stream().anyMatch(r -> r.shape.equals(sh))) s.add(sh);
        return List.copyOf(s);
    }

    private List<String> engines() {
        Set<String> s = new LinkedHashSet<>();
        for (Row r : rows) if (r.bench.equals("LayerBench")) s.add(r.engine);
        return List.copyOf(s);
    }

    private static String f(double v) {
        if (Double.isNaN(v)) return "-";
        if (v >= 100) return String.format(Locale.ROOT, "%.0f", v);
        if (v >= 10) return String.format(Locale.ROOT, "%.1f", v);
        return String.format(Locale.ROOT, "%.2f", v);
    }

    private static String tok(double tokens, double ms) {
        double t = tokens / (ms / 1e3);
        if (t >= 1e6) return String.format(Locale.ROOT, "%.2fM", t / 1e6);
        return t >= 1e4 ? String.format(Locale.ROOT, "%.0fk", t / 1e3) : String.format(Locale.ROOT, "%.0f", t);
    }

    private double copyBandwidth() {
        return rows.stream().filter(r -> r.model.equals("copy")).findFirst()
                .map(r -> MachineBench.copyBytes() / (r.ms / 1e3)).orElse(Double.NaN);
    }

    private double gemmMs(String mnk) {
        return rows.stream().filter(r -> r.model.equals("sgemm") && r.shape.equals(mnk)).findFirst().map(Row::ms).orElse(Double.NaN);
    }

    String markdown() {
        StringBuilder sb = new StringBuilder();
        sb.append("Machine: ").append(machine).append("; ").append(date).append("; load average (1, 5, 15 min) ")
                .append(loadBefore).append(" before, ").append(loadAfter).append(" after; JMH ")
                .append(full ? "full" : "short").append(" run.\n\n");
        sb.append("Time per call (ms, JMH average) and tokens/s (T*B / time) of one layer, input = hidden = d:\n\n");
        sb.append("| model | T x B x d | engine | forward ms | forward tok/s | fwd+bwd ms | fwd+bwd tok/s |\n");
        sb.append("|---|---|---|---:|---:|---:|---:|\n");
        List<String> engines = new ArrayList<>(engines());
        engines.add("onnxruntime");
        for (String sh : shapes()) {
            double tokens = Shape.parse(sh).tokens();
            for (String model : List.of("SRU", "SRU2", "LSTM", "GRU"))
                for (String e : engines) {
                    String bench = e.equals("onnxruntime") ? "OrtBench" : "LayerBench";
                    Optional<Row> fw = find(bench, model, e, sh, "fwd"), fb = find(bench, model, e, sh, "fwd+bwd");
                    if (fw.isEmpty() && fb.isEmpty()) continue;
                    sb.append("| ").append(model).append(" | ").append(sh).append(" | ").append(e).append(" | ")
                            .append(fw.map(r -> f(r.ms)).orElse("-")).append(" | ")
                            .append(fw.map(r -> tok(tokens, r.ms)).orElse("-")).append(" | ")
                            .append(fb.map(r -> f(r.ms)).orElse("-")).append(" | ")
                            .append(fb.map(r -> tok(tokens, r.ms)).orElse("-")).append(" |\n");
                }
        }

        sb.append("\nSRU speed-up over rnn4j's own LSTM (LSTM time / SRU time; target >= 3 for fwd+bwd):\n\n");
        sb.append("| engine | T x B x d | forward | fwd+bwd |\n|---|---|---:|---:|\n");
        for (String e : engines())
            for (String sh : shapes()) {
                String fw = ratio(find("LayerBench", "LSTM", e, sh, "fwd"), find("LayerBench", "SRU", e, sh, "fwd"));
                String fb = ratio(find("LayerBench", "LSTM", e, sh, "fwd+bwd"), find("LayerBench", "SRU", e, sh, "fwd+bwd"));
                if (fw.equals("-") && fb.equals("-")) continue;
                sb.append("| ").append(e).append(" | ").append(sh).append(" | ").append(fw).append(" | ").append(fb).append(" |\n");
            }

        if (rows.stream().anyMatch(r -> r.model.equals("SRU2"))) {
            sb.append("\nsru 2.x layer (SRU2: weight_c peepholes) against SRU v1 (SRU2 time / SRU time; the peepholes add two"
                    + " multiply-adds per element and a weight_c gradient):\n\n");
            sb.append("| engine | T x B x d | forward | fwd+bwd |\n|---|---|---:|---:|\n");
            for (String e : engines())
                for (String sh : shapes()) {
                    String fw = ratio(find("LayerBench", "SRU2", e, sh, "fwd"), find("LayerBench", "SRU", e, sh, "fwd"));
                    String fb = ratio(find("LayerBench", "SRU2", e, sh, "fwd+bwd"), find("LayerBench", "SRU", e, sh, "fwd+bwd"));
                    if (fw.equals("-") && fb.equals("-")) continue;
                    sb.append("| ").append(e).append(" | ").append(sh).append(" | ").append(fw).append(" | ").append(fb).append(" |\n");
                }
        }

        if (rows.stream().anyMatch(r -> r.engine.equals("onnxruntime"))) {
            sb.append("\nrnn4j (cpu backend) against ONNX Runtime, forward (ONNX Runtime time / rnn4j time; >= 1: rnn4j is as fast or faster):\n\n");
            sb.append("| T x B x d | LSTM | GRU |\n|---|---:|---:|\n");
            for (String sh : shapes())
                sb.append("| ").append(sh).append(" | ")
                        .append(ratio(find("OrtBench", "LSTM", "onnxruntime", sh, "fwd"), find("LayerBench", "LSTM", "cpu", sh, "fwd")))
                        .append(" | ")
                        .append(ratio(find("OrtBench", "GRU", "onnxruntime", sh, "fwd"), find("LayerBench", "GRU", "cpu", sh, "fwd")))
                        .append(" |\n");
        }

        double bw = copyBandwidth();
        sb.append(String.format(Locale.ROOT, "%nCopy bandwidth (2 threads, 256 MiB, read + write): %.1f GB/s.%n", bw / 1e9));
        sb.append("\nSRU forward (cpu) against its lower bound: SGEMM time of U = X W plus streaming U, x, h and c once"
                + " (24 bytes per element) at the copy bandwidth:\n\n");
        sb.append("| T x B x d | SGEMM ms | stream ms | bound ms | SRU fwd ms | SRU / bound |\n|---|---:|---:|---:|---:|---:|\n");
        for (String sh : shapes()) {
            Shape s = Shape.parse(sh);
            double g = gemmMs(s.tokens() + "x" + 3 * s.width() + "x" + s.width());
            double stream = SruKernelBench.bytes(s) / bw * 1e3;
            Optional<Row> sru = find("LayerBench", "SRU", "cpu", sh, "fwd");
            double bound = g + stream;
            sb.append("| ").append(sh).append(" | ").append(f(g)).append(" | ").append(f(stream)).append(" | ").append(f(bound))
                    .append(" | ").append(sru.map(r -> f(r.ms)).orElse("-")).append(" | ")
                    .append(sru.map(r -> String.format(Locale.ROOT, "%.2f", r.ms / bound)).orElse("-")).append(" |\n");
        }

        sb.append("\nSRU recurrence primitive alone (sruForward, K = 3): effective bandwidth (24 bytes per element / time)"
                + " and its fraction of the copy bandwidth:\n\n");
        sb.append("| engine | T x B x d | ms | GB/s | of copy |\n|---|---|---:|---:|---:|\n");
        for (Row r : rows)
            if (r.bench.equals("SruKernelBench")) {
                double gbs = SruKernelBench.bytes(Shape.parse(r.shape)) / (r.ms / 1e3);
                sb.append("| ").append(r.engine).append(" | ").append(r.shape).append(" | ").append(f(r.ms)).append(" | ")
                        .append(String.format(Locale.ROOT, "%.1f | %.0f%%", gbs / 1e9, 100 * gbs / bw)).append(" |\n");
            }

        sb.append("\nOpenBLAS SGEMM at the layers' shapes (C = A B, M x N x K):\n\n| M x N x K | ms | GFLOP/s |\n|---|---:|---:|\n");
        for (Row r : rows)
            if (r.model.equals("sgemm")) {
                String[] p = r.shape.split("x");
                double flops = 2.0 * Double.parseDouble(p[0]) * Double.parseDouble(p[1]) * Double.parseDouble(p[2]);
                sb.append("| ").append(r.shape).append(" | ").append(f(r.ms)).append(" | ")
                        .append(String.format(Locale.ROOT, "%.0f", flops / (r.ms / 1e3) / 1e9)).append(" |\n");
            }

        List<Row> lm = rows.stream().filter(r -> r.bench.equals("LmBench")).toList();
        if (!lm.isEmpty()) {
            sb.append("\nLanguage-model training step (dev.rnn4j.lm: 6-layer SRU, d = 910, V = 10000, tied output, T = 35, B = 32,"
                    + " dropout 0.7/0.2, forward + backward + clipping + SGD):\n\n| engine | ms | tokens/s |\n|---|---:|---:|\n");
            for (Row r : lm) sb.append("| ").append(r.engine).append(" | ").append(f(r.ms)).append(" | ")
                    .append(tok(LmBench.SEQ * LmBench.BATCH, r.ms)).append(" |\n");
        }
        return sb.toString();
    }

    private static String ratio(Optional<Row> num, Optional<Row> den) {
        if (num.isEmpty() || den.isEmpty()) return "-";
        return String.format(Locale.ROOT, "%.2f", num.get().ms / den.get().ms);
    }

    /**
     * Tokens/s by shape: one panel for forward, one for forward + backward; a series per engine and
     * model measured at every shape (the reference backend, run at one shape, stays in the table).
     */
    void chart(Path png) throws IOException {
        List<String> shapes = shapes();
        List<CategoryChart> charts = new ArrayList<>();
        for (String mode : List.of("fwd", "fwd+bwd")) {
            CategoryChart c = new CategoryChartBuilder().width(1000).height(560)
                    .title(mode.equals("fwd") ? "Inference (forward)" : "Training (forward + backward)")
                    .xAxisTitle("T x B x d").yAxisTitle("tokens/s (log scale)").build();
            var st = c.getStyler();
            st.setAvailableSpaceFill(0.85);
            st.setOverlapped(false);
            st.setYAxisLogarithmic(true);
            st.setLegendPosition(Styler.LegendPosition.OutsideE);
            st.setLegendLayout(Styler.LegendLayout.Vertical);
            st.setChartBackgroundColor(java.awt.Color.WHITE);
            List<String> engines = new ArrayList<>(engines());
            if (mode.equals("fwd")) engines.add("onnxruntime");
            double lowest = Double.POSITIVE_INFINITY, highest = 0;
            for (String e : engines)
                for (String model : List.of("SRU", "LSTM", "GRU")) {
                    String bench = e.equals("onnxruntime") ? "OrtBench" : "LayerBench";
                    List<Double> ys = new ArrayList<>();
                    for (String sh : shapes)
                        find(bench, model, e, sh, mode).ifPresent(r -> ys.add(Shape.parse(sh).tokens() / (r.ms / 1e3)));
                    // a log axis takes no zeros: a series is drawn only when every shape was measured
                    if (ys.size() == shapes.size()) {
                        c.addSeries(model + " " + e, shapes, ys);
                        for (double y : ys) {
                            lowest = Math.min(lowest, y);
                            highest = Math.max(highest, y);
                        }
                    }
                }
            // bars on a log axis need its range set: whole decades around the data
            if (highest > 0) {
                st.setYAxisMin(Math.pow(10, Math.floor(Math.log10(lowest))));
                st.setYAxisMax(Math.pow(10, Math.ceil(Math.log10(highest))));
            }
            charts.add(c);
        }
        BitmapEncoder.saveBitmap(new ArrayList<>(charts), 1, 2, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    /** A report read back from a results.csv that {@link #write} wrote (to redraw it). */
    static Report load(Path csv) throws IOException {
        List<String> lines = Files.readAllLines(csv);
        boolean full = lines.stream().anyMatch(l -> l.equals("# run: full"));
        Report r = new Report(full);
        for (String l : lines) {
            if (l.startsWith("# machine: ")) r.machine = l.substring(11);
            else if (l.startsWith("# date: ")) r.date = l.substring(8);
            else if (l.startsWith("# load before: ")) r.loadBefore = l.substring(15);
            else if (l.startsWith("# load after: ")) r.loadAfter = l.substring(14);
            else if (!l.startsWith("#") && !l.startsWith("bench,") && !l.isBlank()) {
                String[] f = l.split(",");
                r.rows.add(new Row(f[0], f[1], f[2], f[3], f[4], Double.parseDouble(f[5]), Double.parseDouble(f[6])));
            }
        }
        return r;
    }

    void write(Path dir, PrintStream out) throws IOException {
        String md = markdown();
        Files.writeString(dir.resolve("report.md"), md);
        StringBuilder csv = new StringBuilder();
        csv.append("# machine: ").append(machine).append('\n').append("# date: ").append(date).append('\n')
                .append("# load before: ").append(loadBefore).append('\n').append("# load after: ").append(loadAfter).append('\n')
                .append("# run: ").append(full ? "full" : "short").append('\n');
        csv.append("bench,model,engine,shape,mode,ms,error_ms\n");
        for (Row r : rows)
            csv.append(String.join(",", r.bench, r.model, r.engine, r.shape, r.mode,
                    Double.toString(r.ms), Double.toString(r.err))).append('\n');
        Files.writeString(dir.resolve("results.csv"), csv);
        Path png = dir.resolve("chart.png");
        chart(png);
        out.println();
        out.println(md);
        out.println("written: " + dir.resolve("report.md") + ", " + dir.resolve("results.csv") + ", " + png);
    }
}
