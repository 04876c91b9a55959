package dev.rnn4j.consumer;

import dev.rnn4j.Device;

/**
 * A program outside the rnn4j module, for a child JVM that loads rnn4j from the module path
 * (NativeAccessTest): prints whether rnn4j is a named module, then opens every backend and
 * prints the outcome on one line each.
 */
public final class ModulePathProbe {
    private ModulePathProbe() {}

    public static void main(String[] args) {
        System.out.println("module " + Device.class.getModule().getName());
        for (String name : Device.names()) {
            try (Device d = Device.open(name)) {
                System.out.println("open " + name + " ok");
            } catch (RuntimeException e) {
                System.out.println("open " + name + " " + e.getClass().getSimpleName() + " " + String.valueOf(e.getMessage()).replace("\n", "<NL>"));
            }
        }
    }
}
