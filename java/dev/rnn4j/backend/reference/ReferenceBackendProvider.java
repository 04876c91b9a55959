package dev.rnn4j.backend.reference;

import dev.rnn4j.backend.Backend;
import dev.rnn4j.backend.BackendProvider;

/** Provides the plain-Java reference backend, which is always available. */
public final class ReferenceBackendProvider implements BackendProvider {
    @Override public String name() { return "reference"; }

    @Override public Availability probe() { return Availability.yes(ReferenceBackend.DESCRIPTION); }

    @Override public Backend create() { return new ReferenceBackend(); }
}
