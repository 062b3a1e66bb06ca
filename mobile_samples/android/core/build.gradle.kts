// Plain Kotlin: the deeplink parser, navigation policy, backend client and widget flow. The test
// programs are plain `main`s (CI compiles them with kotlinc, without Gradle); `corpusTest` runs the
// corpus program from Gradle too.
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

tasks.register<JavaExec>("corpusTest") {
    description = "Runs the parser and navigation policy against the shared fixture corpus."
    group = "verification"
    classpath = sourceSets["test"].runtimeClasspath
    mainClass.set("com.example.ofda.core.CorpusTests")
    environment("OFDA_FIXTURES_DIR", rootProject.file("../../deeplinks/fixtures").path)
    environment("OFDA_NAVIGATION_CASES", rootProject.file("../navigation_cases.json").path)
}
