package com.example.ofda.sample

/**
 * Who the sample's user is, for the backend calls that need it. A real app takes the CPF and name from
 * its own sign-up; this is the contract's example.
 */
internal object SampleUser {
    val IDENTIFICATION_INFO: List<Map<String, Any?>> = listOf(mapOf("type" to "CPF", "number" to "76109277673", "name" to "Ralph Bragg"))
}
