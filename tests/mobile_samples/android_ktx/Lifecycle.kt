// Declarations only (see README.md): androidx.lifecycle:lifecycle-viewmodel-ktx and lifecycle-runtime-ktx.
package androidx.lifecycle

import kotlinx.coroutines.CoroutineScope

val ViewModel.viewModelScope: CoroutineScope get() = throw NotImplementedError()

val LifecycleOwner.lifecycleScope: CoroutineScope get() = throw NotImplementedError()

suspend fun LifecycleOwner.repeatOnLifecycle(state: Lifecycle.State, block: suspend CoroutineScope.() -> Unit): Unit =
    throw NotImplementedError()
