package com.example.ofda.core

/**
 * A small JSON reader and writer (RFC 8259), because the plain-Kotlin core has no library on its
 * classpath: on Android you would use org.json or kotlinx.serialization instead, but this module is
 * also compiled and tested on a bare JVM with only the Kotlin standard library.
 *
 * Values are plain Kotlin: `Map<String, Any?>` (insertion-ordered), `List<Any?>`, `String`,
 * `Long` or `Double`, `Boolean` and `null`.
 *
 * ```
 * Json.parse("""{"a": [1, 2.5, "x", null]}""") == mapOf("a" to listOf(1L, 2.5, "x", null))
 * Json.write(mapOf("a" to listOf(1L, "é\n"))) == """{"a":[1,"é\n"]}"""
 * ```
 */
object Json {
    /** Parses one JSON text; throws [JsonException] naming the offset and what was expected. */
    fun parse(text: String): Any? {
        val reader = Reader(text)
        reader.skipWhitespace()
        val value = reader.readValue()
        reader.skipWhitespace()
        if (!reader.atEnd()) reader.fail("end of input")
        return value
    }

    fun write(value: Any?): String = StringBuilder().also { writeTo(it, value) }.toString()

    private fun writeTo(out: StringBuilder, value: Any?) {
        when (value) {
            null -> out.append("null")
            is String -> writeString(out, value)
            is Boolean, is Int, is Long -> out.append(value.toString())
            is Double -> {
                require(value.isFinite()) { "JSON has no representation for $value" }
                out.append(value.toString())
            }
            is Map<*, *> -> {
                out.append('{')
                value.entries.forEachIndexed { i, (key, item) ->
                    if (i > 0) out.append(',')
                    writeString(out, key as? String ?: error("JSON object keys must be strings, got $key"))
                    out.append(':')
                    writeTo(out, item)
                }
                out.append('}')
            }
            is List<*> -> {
                out.append('[')
                value.forEachIndexed { i, item ->
                    if (i > 0) out.append(',')
                    writeTo(out, item)
                }
                out.append(']')
            }
            else -> error("cannot write ${value::class.simpleName} as JSON")
        }
    }

    private fun writeString(out: StringBuilder, s: String) {
        out.append('"')
        for (c in s) {
            when {
                c == '"' -> out.append("\\\"")
                c == '\\' -> out.append("\\\\")
                c == '\n' -> out.append("\\n")
                c == '\r' -> out.append("\\r")
                c == '\t' -> out.append("\\t")
                c < ' ' -> out.append("\\u%04x".format(c.code))
                else -> out.append(c)
            }
        }
        out.append('"')
    }

    private class Reader(private val text: String) {
        private var pos = 0

        fun atEnd() = pos == text.length

        fun fail(expected: String): Nothing {
            val found = if (atEnd()) "end of input" else "'${text[pos]}'"
            throw JsonException("expected $expected at offset $pos, found $found")
        }

        fun skipWhitespace() {
            while (!atEnd() && text[pos] in " \t\r\n") pos++
        }

        fun readValue(): Any? =
            when (if (atEnd()) null else text[pos]) {
                '{' -> readObject()
                '[' -> readArray()
                '"' -> readString()
                't' -> literal("true", true)
                'f' -> literal("false", false)
                'n' -> literal("null", null)
                else -> readNumber()
            }

        private fun literal(word: String, value: Any?): Any? {
            if (!text.startsWith(word, pos)) fail(word)
            pos += word.length
            return value
        }

        private fun expect(c: Char) {
            if (atEnd() || text[pos] != c) fail("'$c'")
            pos++
        }

        private fun readObject(): Map<String, Any?> {
            val result = LinkedHashMap<String, Any?>()
            expect('{')
            skipWhitespace()
            if (!atEnd() && text[pos] == '}') return result.also { pos++ }
            while (true) {
                skipWhitespace()
                if (atEnd() || text[pos] != '"') fail("a string key")
                val key = readString()
                skipWhitespace()
                expect(':')
                skipWhitespace()
                result[key] = readValue()
                skipWhitespace()
                if (!atEnd() && text[pos] == ',') pos++ else break
            }
            expect('}')
            return result
        }

        private fun readArray(): List<Any?> {
            val result = ArrayList<Any?>()
            expect('[')
            skipWhitespace()
            if (!atEnd() && text[pos] == ']') return result.also { pos++ }
            while (true) {
                skipWhitespace()
                result.add(readValue())
                skipWhitespace()
                if (!atEnd() && text[pos] == ',') pos++ else break
            }
            expect(']')
            return result
        }

        private fun readString(): String {
            expect('"')
            val out = StringBuilder()
            while (true) {
                if (atEnd()) fail("'\"'")
                val c = text[pos++]
                when {
                    c == '"' -> return out.toString()
                    c == '\\' -> out.append(readEscape())
                    c < ' ' -> { pos--; fail("an escaped control character") }
                    else -> out.append(c)
                }
            }
        }

        private fun readEscape(): Char {
            if (atEnd()) fail("an escape")
            return when (text[pos++]) {
                '"' -> '"'
                '\\' -> '\\'
                '/' -> '/'
                'b' -> '\b'
                'f' -> '\u000c'
                'n' -> '\n'
                'r' -> '\r'
                't' -> '\t'
                // Surrogate pairs arrive as two \u escapes; appending both halves rebuilds the pair.
                'u' -> {
                    if (pos + 4 > text.length) fail("four hex digits")
                    val code = text.substring(pos, pos + 4).toIntOrNull(16) ?: fail("four hex digits")
                    pos += 4
                    code.toChar()
                }
                else -> { pos--; fail("one of \"\\/bfnrtu after '\\'") }
            }
        }

        private fun readNumber(): Any {
            val match = NUMBER.matchAt(text, pos) ?: fail("a JSON value")
            pos = match.range.last + 1
            val literal = match.value
            return if (literal.any { it in ".eE" }) literal.toDouble() else literal.toLongOrNull() ?: literal.toDouble()
        }
    }

    private val NUMBER = Regex("-?(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
}

class JsonException(message: String) : IllegalArgumentException(message)
