// Declarations only (see README.md): androidx.activity:activity-ktx.
package androidx.activity

import androidx.lifecycle.ViewModel
import androidx.lifecycle.ViewModelProvider

fun ComponentActivity.enableEdgeToEdge(): Unit = throw NotImplementedError()

inline fun <reified VM : ViewModel> ComponentActivity.viewModels(
    noinline factoryProducer: (() -> ViewModelProvider.Factory)? = null,
): Lazy<VM> = throw NotImplementedError()
