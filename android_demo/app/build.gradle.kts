plugins {
    id("com.android.application")
    kotlin("android")
    kotlin("plugin.compose")
}

// The ExecuTorch runtime must be the release that wrote the bundle's .pte files
// (manifest.json -> tools.executorch).
val executorchVersion = "1.5.1"
val litertVersion = "1.4.0"

android {
    namespace = "dev.tinysam.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.tinysam.demo"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        ndk {
            abiFilters += listOf("arm64-v8a", "x86_64")
        }
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    kotlinOptions {
        jvmTarget = "17"
    }

    buildFeatures {
        compose = true
    }

    androidResources {
        // Programs are copied out of the APK once; keep them uncompressed so that is a plain copy.
        noCompress += listOf("pte", "tflite")
    }
}

dependencies {
    implementation(project(":core"))

    implementation(platform("androidx.compose:compose-bom:2024.10.01"))
    implementation("androidx.compose.ui:ui")
    implementation("androidx.compose.foundation:foundation")
    implementation("androidx.compose.material3:material3")
    implementation("androidx.activity:activity-compose:1.9.3")
    implementation("androidx.lifecycle:lifecycle-viewmodel-compose:2.8.7")
    implementation("androidx.lifecycle:lifecycle-runtime-compose:2.8.7")
    implementation("androidx.documentfile:documentfile:1.0.1")
    implementation("androidx.exifinterface:exifinterface:1.3.7")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.9.0")

    implementation("org.pytorch:executorch-android:$executorchVersion")
    implementation("com.google.ai.edge.litert:litert:$litertVersion")
}
