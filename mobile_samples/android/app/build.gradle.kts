plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "com.example.ofda.sample"
    compileSdk = 36

    defaultConfig {
        applicationId = "com.example.ofda.sample"
        // App Links verification is per host from Android 12 (API 31); before that one unverifiable
        // host makes the system skip them all. This app declares one https host.
        minSdk = 26
        targetSdk = 36
        versionCode = 1
        versionName = "0.1.0"
        buildConfigField("String", "BACKEND_URL", "\"${property("ofda.backendUrl")}\"")
        buildConfigField("String", "DEV_TOKEN", "\"${property("ofda.devToken")}\"")
        buildConfigField("String", "WIDGET_ORIGIN", "\"${property("ofda.widgetOrigin")}\"")
        buildConfigField("String", "APPLICATION_LINK", "\"${property("ofda.applicationLink")}\"")
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
    implementation(libs.androidx.activity)
    implementation(libs.androidx.core)
    implementation(libs.androidx.lifecycle.viewmodel)
    implementation(libs.androidx.lifecycle.runtime)
    implementation(libs.androidx.browser)
    implementation(libs.kotlinx.coroutines.android)
}
