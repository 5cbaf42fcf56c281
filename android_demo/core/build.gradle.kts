// Plain JVM Kotlin: no Android dependency, so the same sources also compile with Debian's
// kotlinc 1.3 in CI (tests/test_golden.py). Keep the language to Kotlin 1.3.
plugins {
    kotlin("jvm")
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    testImplementation("junit:junit:4.13.2")
}

tasks.test {
    systemProperty("golden.dir", rootDir.resolve("../tests/golden").absolutePath)
}
