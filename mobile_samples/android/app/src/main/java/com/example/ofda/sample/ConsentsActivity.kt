package com.example.ofda.sample

import android.os.Bundle
import android.view.Gravity
import android.widget.Button
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import androidx.activity.ComponentActivity
import androidx.activity.enableEdgeToEdge
import androidx.activity.viewModels
import androidx.core.view.ViewCompat
import androidx.core.view.WindowInsetsCompat
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.lifecycleScope
import androidx.lifecycle.repeatOnLifecycle
import com.example.ofda.core.ConsentBadge
import com.example.ofda.core.UserLink
import com.example.ofda.core.consentBadge
import kotlinx.coroutines.launch

/**
 * The user's connected banks and their Open Finance consents: "Manage my data sharing" opens My Belvo
 * Portal, each link shows Belvo's status and a badge when its consent is about to expire or expired,
 * with "Renew" opening the portal in renew mode. The portal is Belvo's page, opened in a Custom Tab
 * ([openInCustomTab]); the user comes back with the back button and the list is read again.
 */
class ConsentsActivity : ComponentActivity() {
    private val viewModel: ConsentsViewModel by viewModels()
    private lateinit var content: LinearLayout

    override fun onCreate(savedInstanceState: Bundle?) {
        enableEdgeToEdge()
        super.onCreate(savedInstanceState)
        content = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(48, 48, 48, 48)
        }
        val scroll = ScrollView(this).apply { addView(content) }
        ViewCompat.setOnApplyWindowInsetsListener(scroll) { view, insets ->
            val bars = insets.getInsets(WindowInsetsCompat.Type.systemBars() or WindowInsetsCompat.Type.displayCutout())
            view.setPadding(bars.left, bars.top, bars.right, bars.bottom)
            WindowInsetsCompat.CONSUMED
        }
        setContentView(scroll)
        lifecycleScope.launch {
            repeatOnLifecycle(Lifecycle.State.STARTED) {
                launch { viewModel.ui.collect(::render) }
                viewModel.portalToOpen.collect { openInCustomTab(it, "No browser can open My Belvo Portal.") }
            }
        }
    }

    override fun onStart() {
        super.onStart()
        // Also on coming back from the portal, where the user may have renewed or revoked a consent.
        viewModel.refresh()
    }

    private fun render(state: ConsentsState) {
        content.removeAllViews()
        content.addView(
            Button(this).apply {
                text = "Manage my data sharing"
                setOnClickListener { viewModel.managePortal() }
            },
        )
        when (state) {
            ConsentsState.Loading -> content.addView(text("Loading your connections…"))
            is ConsentsState.Failed -> content.addView(text("Your connections could not be read: ${state.reason}"))
            is ConsentsState.Links -> {
                state.notice?.let { content.addView(text(it)) }
                if (state.links.isEmpty()) content.addView(text("No bank connected yet."))
                state.links.forEach { content.addView(row(it)) }
            }
        }
    }

    private fun row(link: UserLink): LinearLayout {
        val row = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(0, 32, 0, 32)
        }
        row.addView(text(link.consent?.institutionDisplayName ?: link.institution))
        row.addView(text("Connection: ${link.status ?: "unknown"}"))
        val badge = consentBadge(link) ?: return row
        val dueDate = link.consent?.dueDate?.substringBefore('T')
        row.addView(
            text(
                when (badge) {
                    ConsentBadge.ABOUT_TO_EXPIRE -> "⚠ Consent expires soon" + (dueDate?.let { " ($it)" } ?: "")
                    ConsentBadge.EXPIRED -> "⛔ Consent expired: this bank's data no longer updates"
                },
            ),
        )
        row.addView(
            Button(this).apply {
                text = "Renew"
                setOnClickListener { viewModel.renew(link) }
            },
        )
        return row
    }

    private fun text(value: String) = TextView(this).apply {
        text = value
        gravity = Gravity.START
    }
}
