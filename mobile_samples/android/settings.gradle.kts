// The Android sample: `core` is plain Kotlin (no Android imports; compiled and tested by the project's
// CI with kotlinc), `app` is the Android app around it (needs the Android SDK; see README.md).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "ofda-widget-sample"
include(":core", ":app")
