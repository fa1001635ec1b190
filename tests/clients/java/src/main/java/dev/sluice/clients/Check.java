package dev.sluice.clients;

import java.util.Objects;

/** Assertions that stay on whatever JVM flags are used (unlike `assert`). */
final class Check {
  private Check() {}

  static void that(boolean condition, String what) {
    if (!condition) throw new AssertionError(what);
  }

  static void equal(Object expected, Object actual, String what) {
    if (!Objects.equals(expected, actual)) {
      throw new AssertionError(what + ": expected <" + expected + "> but got <" + actual + ">");
    }
  }
}
