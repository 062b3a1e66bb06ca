package com.example.ofda.core

import java.io.File
import kotlin.system.exitProcess

/**
 * A minimal test runner (there is no JUnit on this classpath): each [check] runs one named case,
 * failures are printed with what was expected and what came, and [finish] prints the one line the
 * CI reads, `N passed, N failed`, and exits non-zero on any failure or when nothing ran.
 */
class Checks {
    private var passed = 0
    private var failed = 0

    fun check(name: String, body: () -> Unit) {
        try {
            body()
            passed++
        } catch (e: Throwable) {
            failed++
            println("FAIL $name: ${e.message ?: e::class.simpleName}")
        }
    }

    fun finish(): Nothing {
        println("$passed passed, $failed failed")
        exitProcess(if (failed == 0 && passed > 0) 0 else 1)
    }
}

class CheckFailure(message: String) : AssertionError(message)

fun expectEqual(expected: Any?, actual: Any?, what: String) {
    if (expected != actual) throw CheckFailure("$what: expected ${show(expected)}, got ${show(actual)}")
}

/** JSON for JSON values (so strings show their escapes), toString for the rest. */
private fun show(value: Any?): String = runCatching { Json.write(value) }.getOrElse { value.toString() }

fun requiredEnv(name: String): String =
    System.getenv(name)?.takeIf { it.isNotBlank() } ?: run {
        println("environment variable $name is required")
        exitProcess(2)
    }

fun readJsonFile(path: File): Any? = Json.parse(path.readText(Charsets.UTF_8))
