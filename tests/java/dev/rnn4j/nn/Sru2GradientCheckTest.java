package dev.rnn4j.nn;

import dev.rnn4j.Device;
import dev.rnn4j.Tensor;
import dev.rnn4j.backend.DeviceAccess;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The sru 2.x layer's backward against float32 central differences of
 * loss = sum(output * gO) + sum(cN * gC), for every 2.x parameter (weight, weight_proj,
 * weight_c, bias, layer_norm.weight and .bias) and for input and c0, with and without lengths
 * (mask_pad), on the reference backend. scale_x is a buffer: set to a value other than 1 and held
 * fixed. Dropout cases run in training mode with the dropout seed reset before every forward.
 */
class Sru2GradientCheckTest {
    private static final int T = 4, B = 3;
    private static final int[] LENGTHS = {3, 4, 1};
    private static final double EPS = 5e-3;

    /** layers == 0: a bare SRUCell. */
    record Case(String name, int nIn, int hidden, int layers, boolean bidir, boolean tanh, boolean skip, boolean rescale,
                int proj, boolean layerNorm, boolean after, double dropout, double rnnDropout) {
        @Override public String toString() { return name; }
    }

    static Stream<Arguments> cases() {
        Case[] cs = {
                new Case("cell k3 rescale", 3, 3, 0, false, false, true, true, 0, false, false, 0, 0),
                new Case("cell k4 bidir tanh", 4, 3, 0, true, true, true, false, 0, false, false, 0, 0),
                new Case("cell no skip tanh", 4, 3, 0, false, true, false, false, 0, false, false, 0, 0),
                new Case("cell projection k4", 5, 3, 0, false, false, true, false, 2, false, false, 0, 0),
                new Case("cell projection k3 bidir rescale", 6, 3, 0, true, false, true, true, 4, false, false, 0, 0),
                new Case("cell layer norm before, k4 bidir", 6, 3, 0, true, false, true, false, 0, true, false, 0, 0),
                new Case("cell layer norm before, k3 rescale", 5, 5, 0, false, false, true, true, 0, true, false, 0, 0),
                new Case("cell layer norm after", 4, 5, 0, false, false, true, false, 0, true, true, 0, 0),
                new Case("cell dropout+rnnDropout layer norm", 6, 3, 0, false, false, true, true, 0, true, false, 0.4, 0.4),
                new Case("sru 2 layers bidir projection layer norm after", 5, 3, 2, true, false, true, false, 2, true, true, 0, 0),
                new Case("sru 2 layers dropout+rnnDropout", 4, 3, 2, false, false, true, true, 0, false, false, 0.3, 0.3),
        };
        return Stream.of(cs).flatMap(c -> Stream.of(Arguments.of(c, false), Arguments.of(c, true)));
    }

    @ParameterizedTest(name = "{0}, lengths={1}")
    @MethodSource("cases")
    void backwardMatchesFiniteDifferences(Case c, boolean withLengths) {
        try (Device dev = Device.reference()) {
            long baseline = DeviceAccess.backend(dev).liveBuffers();
            int[] len = withLengths ? LENGTHS : null;
            int out = (c.bidir ? 2 : 1) * c.hidden;
            Module module;
            SruGradients.Net net;
            int[] c0Shape;
            if (c.layers == 0) {
                SRUCell cell = configure(SRUCell.builder(c.nIn, c.hidden), c).build(dev);
                module = cell;
                net = new SruGradients.Net() {
                    public RecurrentOutput forward(Tensor x, Tensor c0) { return cell.forward(x, c0, len); }
                    public RecurrentGrads backward(RecurrentOutput o, Tensor g, Tensor gc) { return cell.backward(o, g, gc); }
                };
                c0Shape = new int[] {B, out};
                if (c.rescale) cell.scaleX().set(new float[] {1.3f});
            } else {
                SRU sru = configure(SRU.builder(c.nIn, c.hidden).numLayers(c.layers), c).build(dev);
                module = sru;
                net = new SruGradients.Net() {
                    public RecurrentOutput forward(Tensor x, Tensor c0) { return sru.forward(x, c0, len); }
                    public RecurrentGrads backward(RecurrentOutput o, Tensor g, Tensor gc) { return sru.backward(o, g, gc); }
                };
                c0Shape = new int[] {c.layers, B, out};
                if (c.rescale) for (SRUCell l : sru.layers()) l.scaleX().set(new float[] {1.3f});
            }
            try (module) {
                SplittableRandom r = new SplittableRandom(c.name.hashCode() + (withLengths ? 1 : 0));
                int checked = SruGradients.check(c.name, dev, module, net, r, T, B, c.nIn, out, c0Shape, (o, gx) -> {
                    if (len == null) return;
                    // mask_pad: zero output and zero input gradient at padded steps
                    float[] y = o.output().toArray();
                    for (int t = 0; t < T; t++)
                        for (int b = 0; b < B; b++)
                            if (t >= len[b]) {
                                for (int j = 0; j < out; j++) assertEquals(0.0, Math.abs(y[(t * B + b) * out + j]), "output at a padded step");
                                for (int j = 0; j < c.nIn; j++) assertEquals(0.0, Math.abs(gx[(t * B + b) * c.nIn + j]), "grad_input at a padded step");
                            }
                }, EPS, false, new SruGradients.Tally());
                int perLayer = 3 + (c.proj > 0 ? 1 : 0) + (c.layerNorm ? 2 : 0);
                assertEquals(perLayer * Math.max(1, c.layers), checked, "parameters checked");
                assertFalse(module.namedParameters().keySet().stream().anyMatch(k -> k.endsWith("scale_x")),
                        "scale_x is a buffer, not a parameter");
            }
            assertEquals(baseline, DeviceAccess.backend(dev).liveBuffers(), "buffers leaked");
        }
    }

    private static <S extends SRUOptions<S>> S configure(S b, Case c) {
        b.v1(false).bidirectional(c.bidir).useTanh(c.tanh).hasSkipTerm(c.skip).rescale(c.rescale)
                .projectionSize(c.proj).layerNorm(c.layerNorm).normalizeAfter(c.after).dropout(c.dropout).rnnDropout(c.rnnDropout);
        return b;
    }
}
