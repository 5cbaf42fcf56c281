package dev.tinysam.core

/**
 * A small strict JSON reader (RFC 8259) for manifests and test vectors, so the core needs no
 * Android or third-party library. Objects become [Map], arrays [List], numbers [Double].
 */
object Json {
    fun parse(text: String): Any? {
        val reader = Reader(text)
        val value = reader.value()
        reader.skipSpace()
        if (!reader.atEnd()) throw reader.error("trailing characters")
        return value
    }

    private class Reader(private val text: String) {
        private var pos = 0

        fun atEnd(): Boolean = pos >= text.length

        fun error(message: String): IllegalArgumentException =
            IllegalArgumentException("invalid JSON at offset $pos: $message")

        fun skipSpace() {
            while (!atEnd() && text[pos] in " \t\r\n") pos++
        }

        fun value(): Any? {
            skipSpace()
            if (atEnd()) throw error("unexpected end")
            return when (text[pos]) {
                '{' -> obj()
                '[' -> array()
                '"' -> string()
                't' -> literal("true", true)
                'f' -> literal("false", false)
                'n' -> literal("null", null)
                else -> number()
            }
        }

        private fun literal(word: String, result: Any?): Any? {
            if (!text.startsWith(word, pos)) throw error("expected $word")
            pos += word.length
            return result
        }

        private fun obj(): Map<String, Any?> {
            val out = LinkedHashMap<String, Any?>()
            pos++
            skipSpace()
            if (!atEnd() && text[pos] == '}') {
                pos++
                return out
            }
            while (true) {
                skipSpace()
                if (atEnd() || text[pos] != '"') throw error("expected a key")
                val key = string()
                skipSpace()
                expect(':')
                out[key] = value()
                skipSpace()
                if (atEnd()) throw error("unterminated object")
                if (text[pos] == ',') {
                    pos++
                    continue
                }
                expect('}')
                return out
            }
        }

        private fun array(): List<Any?> {
            val out = ArrayList<Any?>()
            pos++
            skipSpace()
            if (!atEnd() && text[pos] == ']') {
                pos++
                return out
            }
            while (true) {
                out.add(value())
                skipSpace()
                if (atEnd()) throw error("unterminated array")
                if (text[pos] == ',') {
                    pos++
                    continue
                }
                expect(']')
                return out
            }
        }

        private fun expect(c: Char) {
            if (atEnd() || text[pos] != c) throw error("expected '$c'")
            pos++
        }

        private fun string(): String {
            pos++
            val out = StringBuilder()
            while (true) {
                if (atEnd()) throw error("unterminated string")
                val c = text[pos++]
                when {
                    c == '"' -> return out.toString()
                    c == '\\' -> {
                        if (atEnd()) throw error("unterminated escape")
                        val e = text[pos++]
                        when (e) {
                            '"', '\\', '/' -> out.append(e)
                            'b' -> out.append('\b')
                            'f' -> out.append('\u000C')
                            'n' -> out.append('\n')
                            'r' -> out.append('\r')
                            't' -> out.append('\t')
                            'u' -> {
                                if (pos + 4 > text.length) throw error("bad unicode escape")
                                out.append(text.substring(pos, pos + 4).toInt(16).toChar())
                                pos += 4
                            }
                            else -> throw error("bad escape '\\$e'")
                        }
                    }
                    c < ' ' -> throw error("control character in string")
                    else -> out.append(c)
                }
            }
        }

        private fun number(): Double {
            val start = pos
            while (!atEnd() && text[pos] in "+-0123456789.eE") pos++
            val token = text.substring(start, pos)
            return token.toDoubleOrNull() ?: throw error("bad number '$token'")
        }
    }
}

/** Typed access to parsed JSON with errors that name the field. */
internal fun Map<String, Any?>.obj(key: String): Map<String, Any?> {
    @Suppress("UNCHECKED_CAST")
    return this[key] as? Map<String, Any?> ?: throw IllegalArgumentException("'$key' must be an object")
}

internal fun Map<String, Any?>.list(key: String): List<Any?> =
    this[key] as? List<Any?> ?: throw IllegalArgumentException("'$key' must be an array")

internal fun Map<String, Any?>.str(key: String): String =
    this[key] as? String ?: throw IllegalArgumentException("'$key' must be a string")

internal fun Map<String, Any?>.int(key: String): Int {
    val value = this[key] as? Double ?: throw IllegalArgumentException("'$key' must be a number")
    if (value != Math.floor(value)) throw IllegalArgumentException("'$key' must be an integer, got $value")
    return value.toInt()
}
