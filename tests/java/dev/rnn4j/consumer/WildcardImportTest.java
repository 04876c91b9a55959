package dev.rnn4j.consumer;

import dev.rnn4j.Device;
import dev.rnn4j.nn.*;
import dev.rnn4j.nn.Module;   // the documented way around java.lang.Module: a single-type import wins over both

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** A consumer's {@code import dev.rnn4j.nn.*} compiles with the single-type import of Module beside it (this file is the test). */
class WildcardImportTest {
    @Test
    void moduleMeansRnn4jsModule() {
        try (Device device = Device.reference(); GRU gru = GRU.builder(2, 3).seed(1).build(device)) {
            Module m = gru;
            assertEquals(4, m.namedParameters().size());
            assertEquals(dev.rnn4j.nn.Module.class, Module.class);
        }
    }
}
