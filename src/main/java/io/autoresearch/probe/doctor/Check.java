package io.autoresearch.probe.doctor;

/** The outcome of one doctor check: its status, name and a one-line detail (with the fix when it failed). */
public record Check(Status status, String name, String detail) {
    /** A check's status. OK is ready, WARN is not checked or worth a look (the command still succeeds), FAIL must be fixed. */
    public enum Status {
        OK, WARN, FAIL;

        String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public static Check ok(String name, String detail) {
        return new Check(Status.OK, name, detail);
    }

    public static Check warn(String name, String detail) {
        return new Check(Status.WARN, name, detail);
    }

    public static Check fail(String name, String detail) {
        return new Check(Status.FAIL, name, detail);
    }

    public boolean failed() {
        return status == Status.FAIL;
    }

    /** Formats the line {@code ok|warn|fail <name>: <detail>}. */
    public String line() {
        return status.label() + " " + name + ": " + detail;
    }
}
