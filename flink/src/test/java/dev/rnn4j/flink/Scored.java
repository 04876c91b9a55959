// Test result: a key's output at one step, a Flink POJO.
package dev.rnn4j.flink;

public class Scored {
    public int key;
    public int seq;
    public float[] output;

    public Scored() {}

    public Scored(int key, int seq, float[] output) {
        this.key = key;
        this.seq = seq;
        this.output = output;
    }
}
