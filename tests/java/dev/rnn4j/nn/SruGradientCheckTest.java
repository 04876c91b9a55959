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
 * Backward against float32 central differences of loss = sum(output * gO) + sum(cN * gC), for
 * every input of the layer: input, c0, weight and bias. Dropout cases run in training mode with
 * the dropout seed reset before every forward, so every evaluation sees the same masks.
 *
 * <p>relu has kinks: a difference quotient that straddles one is not a derivative. A mismatch is
 * blamed on a kink only when the quotient itself changes with the step (a smooth function's does
 * not, so a wrong gradient cannot hide this way), and only a few such coordinates are allowed.
 */
class SruGradientCheckTest {
    private static final int T = 3, B = 2;
    private static final double EPS = 1e-2;
    /** A smaller step for relu makes straddling a kink rarer; float32 noise still stays well under ATOL. */
    private static final double EPS_RELU = 2e-3;

    /** layers == 0 means a bare SRUCell; act: 0 identity, 1 tanh, 2 relu. */
    record Case(String name, int nIn, int hidden, int layers, boolean bidir, int act, double dropout, double rnnDropout) {
        @Override public String toString() { return name; }
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                new Case("cell k3 tanh", 3, 3, 0, false, 1, 0, 0),
                new Case("cell k4 tanh", 4, 3, 0, false, 1, 0, 0),
                new Case("cell k3 identity", 2, 2, 0, false, 0, 0, 0),
                new Case("cell k4 identity", 3, 2, 0, false, 0, 0, 0),
                new Case("cell k3 relu", 3, 3, 0, false, 2, 0, 0),
                new Case("cell k4 relu", 2, 3, 0, false, 2, 0, 0),
                new Case("cell k3 bidir", 4, 2, 0, true, 1, 0, 0),
                new Case("cell k4 bidir", 3, 2, 0, true, 1, 0, 0),
                new Case("cell k3 dropout+rnnDropout", 3, 3, 0, false, 1, 0.4, 0.4),
                new Case("cell k4 dropout+rnnDropout", 4, 3, 0, false, 1, 0.4, 0.4),
                new Case("cell k3 bidir dropout+rnnDropout", 4, 2, 0, true, 1, 0.3, 0.5),
                new Case("cell k4 bidir relu rnnDropout", 3, 2, 0, true, 2, 0, 0.3),
                new Case("sru 2 layers tanh", 3, 3, 2, false, 1, 0, 0),
                new Case("sru 2 layers bidir", 3, 2, 2, true, 1, 0, 0),
                new Case("sru 2 layers identity", 2, 3, 2, false, 0, 0, 0),
                new Case("sru 3 layers relu dropout+rnnDropout", 3, 2, 3, false, 2, 0.3, 0.3),
                new Case("sru 2 layers bidir dropout+rnnDropout", 4, 2, 2, true, 1, 0.4, 0.4)
        ).map(Arguments::of);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void backwardMatchesFiniteDifferences(Case c) {
        try (Device dev = Device.reference()) {
            long baseline = DeviceAccess.backend(dev).liveBuffers();
            Module module;
            SruGradients.Net net;
            int[] c0Shape;
            int out = (c.bidir ? 2 : 1) * c.hidden;
            if (c.layers == 0) {
                SRUCell cell = SRUCell.builder(c.nIn, c.hidden).bidirectional(c.bidir)
                        .useTanh(c.act == 1).useRelu(c.act == 2).dropout(c.dropout).rnnDropout(c.rnnDropout).build(dev);
                module = cell;
                net = new SruGradients.Net() {
                    public RecurrentOutput forward(Tensor x, Tensor c0) { return cell.forward(x, c0); }
                    public RecurrentGrads backward(RecurrentOutput o, Tensor g, Tensor gc) { return cell.backward(o, g, gc); }
                };
                c0Shape = new int[] {B, out};
            } else {
                SRU sru = SRU.builder(c.nIn, c.hidden).numLayers(c.layers).bidirectional(c.bidir)
                        .useTanh(c.act == 1).useRelu(c.act == 2).dropout(c.dropout).rnnDropout(c.rnnDropout).build(dev);
                module = sru;
                net = new SruGradients.Net() {
                    public RecurrentOutput forward(Tensor x, Tensor c0) { return sru.forward(x, c0); }
                    public RecurrentGrads backward(RecurrentOutput o, Tensor g, Tensor gc) { return sru.backward(o, g, gc); }
                };
                c0Shape = new int[] {c.layers, B, out};
            }
            try (module) {
                boolean relu = c.act == 2;
                SruGradients.Tally tally = new SruGradients.Tally();
                SruGradients.check(c.name, dev, module, net, new SplittableRandom(c.name.hashCode()), T, B, c.nIn, out, c0Shape,
                        (o, gx) -> {}, relu ? EPS_RELU : EPS, relu, tally);
                assertTrue(tally.kinks.size() <= tally.total / 20, "too many coordinates blamed on relu kinks: " + tally.kinks);
            }
            assertEquals(baseline, DeviceAccess.backend(dev).liveBuffers(), "buffers leaked");
        }
    }
}
