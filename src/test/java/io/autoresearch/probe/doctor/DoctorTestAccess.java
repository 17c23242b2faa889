package io.autoresearch.probe.doctor;

/** Reaches the package-private checks of {@link Doctor} from the command tests. */
public final class DoctorTestAccess {
    private DoctorTestAccess() {
    }

    /** Returns the Java check's line for a JVM of this feature version. */
    public static String java(int feature) {
        return Doctor.java(feature, feature + ".0.1", "/opt/java-" + feature).line();
    }
}
