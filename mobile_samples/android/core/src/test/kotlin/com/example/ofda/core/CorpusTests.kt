package com.example.ofda.core

import java.io.File

/**
 * Runs the Kotlin parser against the deeplink fixture corpus the Python parser is tested against
 * (`OFDA_FIXTURES_DIR`, every `*.json` in it), and the WebView navigation policy against the cases
 * shared by the three mobile samples (`OFDA_NAVIGATION_CASES`).
 */
object CorpusTests {
    @JvmStatic
    fun main(args: Array<String>) {
        val checks = Checks()
        val fixtures = File(requiredEnv("OFDA_FIXTURES_DIR")).listFiles { f -> f.name.endsWith(".json") }.orEmpty().sortedBy { it.name }
        checks.check("the corpus directory holds *.json fixture files") {
            if (fixtures.isEmpty()) throw CheckFailure("expected fixture files, found none")
        }
        for (file in fixtures) {
            val cases = readJsonFile(file) as? List<*> ?: throw CheckFailure("${file.name}: expected a JSON array of cases")
            cases.forEachIndexed { index, case -> corpusCase(checks, "${file.name}[$index]", case as Map<*, *>) }
        }
        val navigation = readJsonFile(File(requiredEnv("OFDA_NAVIGATION_CASES"))) as List<*>
        for (group in navigation) navigationGroup(checks, group as Map<*, *>)
        jsonChecks(checks)
        resumeChecks(checks)
        checks.finish()
    }
}

private fun corpusCase(checks: Checks, where: String, case: Map<*, *>) {
    checks.check("$where ${case["name"]}") {
        val url = case["url"] as? String ?: throw CheckFailure("expected a string 'url'")
        // Malformed callback URLs are the parser's to refuse too, so they are read inside the try.
        val outcome: Any? = try {
            Deeplinks.parse(url, case["callback_urls"]?.let(CallbackUrls::fromJson)).toJson()
        } catch (e: DeeplinkException) {
            mapOf("error" to e.code, "message" to e.message)
        }
        when {
            "expect" in case -> expectEqual(case["expect"], outcome, "event")
            "expect_error" in case -> expectEqual(case["expect_error"], (outcome as Map<*, *>)["error"], "error code (got $outcome)")
            else -> throw CheckFailure("expected the case to have 'expect' or 'expect_error'")
        }
    }
    // The events the backend answers with are read back with fromJson: it must invert toJson.
    case["expect"]?.let { expected ->
        checks.check("$where ${case["name"]} (fromJson)") { expectEqual(expected, DeeplinkEvent.fromJson(expected).toJson(), "round trip") }
    }
}

private fun navigationGroup(checks: Checks, group: Map<*, *>) {
    val policy = NavigationPolicy(group["widget_url"] as String, CallbackUrls.fromJson(group["callback_urls"]))
    for (case in group["cases"] as List<*>) {
        case as Map<*, *>
        checks.check("navigation: ${group["name"]}: ${case["name"]}") {
            val url = case["url"] as String
            val decision = when (val navigation = policy.decide(url)) {
                Navigation.LoadInWebView -> "load"
                is Navigation.ForwardToBackend -> "forward".also { expectEqual(url, navigation.url, "forwarded URL") }
                is Navigation.OpenExternally -> "external".also { expectEqual(url, navigation.url, "external URL") }
                is Navigation.Block -> "block"
            }
            expectEqual(case["expect"], decision, "decision")
        }
    }
}

private fun jsonChecks(checks: Checks) {
    checks.check("json: escapes and a surrogate pair survive a round trip") {
        val text = """{"a":"q\"\\/\b\f\n\r\t\u0001 é \ud83d\ude00","b":[1,-2.5,1e3,true,false,null],"c":{}}"""
        val value = Json.parse(text)
        expectEqual("q\"\\/\b\u000c\n\r\t\u0001 é \uD83D\uDE00", (value as Map<*, *>)["a"], "decoded string")
        expectEqual(listOf(1L, -2.5, 1000.0, true, false, null), value["b"], "array")
        expectEqual(value, Json.parse(Json.write(value)), "re-read")
    }
    for (bad in listOf("", "{", "[1,]", "{\"a\" 1}", "\"\u0001\"", "01", "1 2", "nul", "\"\\x\"")) {
        checks.check("json: rejects ${Json.write(bad)}") {
            val result = runCatching { Json.parse(bad) }
            if (result.exceptionOrNull() !is JsonException) throw CheckFailure("expected a JsonException, got $result")
        }
    }
}

private fun resumeChecks(checks: Checks) {
    val callbacks = CallbackUrls("myapp://belvo/success", "myapp://belvo/exit", "myapp://belvo/event", "https://app.example.com/belvo-widget")
    val url = "https://app.example.com/belvo-widget/?access_token=tok%2B1.x&consent_id=c-1&locale=pt"
    checks.check("resume: the access token is decoded from the query, and kept out of toString") {
        val event = Deeplinks.parse(url, callbacks) as? ResumeEvent ?: throw CheckFailure("expected a ResumeEvent")
        expectEqual("tok+1.x", event.accessToken, "access token")
        if ("tok" in event.toString()) throw CheckFailure("expected no token in ${event}")
    }
    checks.check("resume: callback URLs with an application link read back from their JSON") {
        expectEqual(callbacks, CallbackUrls.fromJson(callbacks.toJson()), "round trip")
    }
}
