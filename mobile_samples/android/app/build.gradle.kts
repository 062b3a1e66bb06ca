plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "com.example.ofda.sample"
    compileSdk = 35

    defaultConfig {
        applicationId = "com.example.ofda.sample"
        // App Links verification is per host from Android 12 (API 31); before that one unverifiable
        // host makes the system skip them all (docs/security.md G1). This app declares one https host.
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        buildConfigField("String", "BACKEND_URL", "\"${property("ofda.backendUrl")}\"")
        buildConfigField("String", "DEV_TOKEN", "\"${property("ofda.devToken")}\"")
        manifestPlaceholders["callbackScheme"] = property("ofda.callbackScheme") as String
        manifestPlaceholders["appLinkHost"] = property("ofda.appLinkHost") as String
    }

    buildFeatures {
        buildConfig = true
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation(project(":core"))
}
