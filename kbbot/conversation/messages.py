"""Every sentence kbbot says to a person, in one place (so wording and a future translation live together).

Strings are mrkdwn. Placeholders are filled with `str.format` by the renderer (kbbot.slack.blocks), which
escapes what it puts in and writes the mentions; the engine hands over the unescaped values (`replies.Wording`).
"""

from __future__ import annotations

# --- answers -----------------------------------------------------------------------------------------------
SHORTLIST_INTRO = "A few articles could fit. Which one matches what you see?"
PRODUCT_QUESTION = "These articles are about different products. Which are you running?"
PRODUCT_CHOSEN = "Got it: *{product}*. I'll stick to that for the rest of this thread."
NO_MATCH = "I don't know this one. Try the exact error text or the product name."
NO_MATCH_EXAMPLE = (
    "I don't know this one. Try the exact error text (for example `{error}`) or the product name."
)
NO_MATCH_FALLBACK = "I don't know this one."
OUT_OF_CANDIDATES = (
    "I've run out of articles that fit. Tell me more (the exact error text or the product helps), "
    "or ask for a human."
)
NEXT_CANDIDATE = "Let's try another article."
RULED_OUT = "OK, not that one."
NOT_IN_KB = "{qid} isn't in my knowledge base."
NOT_IN_KB_CLOSEST = "There's no {qid} in my knowledge base. Closest: {closest}"
SHARED_BY = "{user} shared {qid}."  # user: a mention, written by the renderer

# --- walking through a fix ---------------------------------------------------------------------------------
STEP_HEADING = "*Step {n} of {total}*"
METHOD_HEADING = "Method {m} of {methods}: {label}"
STEP_FALLBACK = "Step {n} of {total}: {text}"
NO_PROCEDURE = "{qid} has no step-by-step procedure; the resolution above is the whole fix."
LAST_STEP = "That was the last step. Did it fix the problem?"
FIRST_STEP = "This is the first step already."
STEP_OUT_OF_RANGE = 'This fix has {total} steps; say "step 1" to "step {total}".'
NOT_WALKING = "We're not on a fix yet. Ask me a question, or say \"walk me through\" after I've found an article."
NOTHING_YET = "I'm not working on anything in this thread yet. What's the problem?"
ALTERNATIVE_METHOD = "That method didn't do it. Let's try another one: *{label}*."
ALL_STEPS_INTRO = "All {total} steps of {qid}:"
STEP_FAILED_GO_ON = "Noted: step {done} didn't fix it on its own. Step {n} may still fix it."
STEPS_TO_WALK = "_{total} steps: press *Walk me through the fix* to go through them one at a time._"
MIDWALK_NO_MATCH = (
    "I couldn't find anything for that, so we're still on step {n} of {total}. "
    "Say *next* when you're ready, or tell me it's a different problem."
)
CLARIFY_WALKING = "Not sure what you mean. Shall we go on to the next step, or is this a different problem?"
CLARIFY_LAST_STEP = "Not sure what you mean. Did that last step fix the problem?"
CLARIFY_ANSWERED = "Not sure what you mean. Shall I walk you through the fix, or is this a different problem?"
SMALLTALK_WALKING = 'Whenever you\'re ready: say *next* for step {n}, or tell me how it went.'
STEP_MOVED_ON = "_Moved on; the latest step is further down this thread._"
MORE_STEPS = '…and {more} more. Say "step {n}" to go there.'

# --- outcomes ----------------------------------------------------------------------------------------------
RESOLVED = "Great, glad that fixed it! I've noted that {qid} worked."
RESOLVED_NO_ARTICLE = "Great, glad it's sorted!"
OFFER_ESCALATION = "I'm out of fixes for this one. Shall I ask {target} to take a look?"
ESCALATE_ASK_FIRST = (
    "I can bring in {target}. What's the problem? Describe it or paste the error and I'll look for a fix "
    "first; or say *talk to a human* again and I'll ask them straight away."
)
ESCALATED = "I've asked {target} to take a look; they'll reply in this thread."
ALREADY_ESCALATED = "{target} has already been asked about this thread."
DENIED = 'OK. Tell me more about what you see (the exact error text helps), or say "talk to a human".'
CHOOSE_ABOVE = "Pick one of the options above, or tell me more about the problem."
ALREADY_RESOLVED = 'This thread is marked as fixed. Ask a new question any time, or say "start over".'

# --- small talk and odd messages ---------------------------------------------------------------------------
GREETING = "Hi! Tell me what's going wrong (the exact error text works best) and I'll find the fix."
THANKS = "You're welcome!"
START_OVER = "Starting over. What's the problem?"
# Help is put together from these lines; the examples in it come from the loaded KB (kbbot.conversation.examples).
HELP_INTRO = "I find articles in this knowledge base and walk you through the fix."
HELP_PRODUCTS = "It covers {products}, among others."
HELP_ASK = "• Describe the problem or paste the exact error"
HELP_ASK_EXAMPLE = "• Describe the problem or paste the exact error, e.g. `{error}`"
HELP_REST = (
    "• Then: *walk me through*, *next*, *back*, *repeat*, *step 3*, *all steps*\n"
    "• Tell me how it went: *it worked* or *didn't work*\n"
    "• *start over*, or *talk to a human* to escalate"
)
HELP_LOOKUP = "• `/kb {qid}` looks an article up by its id"
EMPTY_MESSAGE = "I didn't catch a question there. Tell me what's going wrong, or paste the exact error text."
TOO_LONG = (
    "That's a lot of text ({chars} characters). Paste just the error line or describe the problem "
    "in a sentence or two."
)
INVALID_BUTTON = "That button isn't valid here."
STALE_ACTION = "That button is from an earlier message; the latest message in this thread has the current ones."
INTERNAL_ERROR = 'Sorry, something went wrong on my side. Try again, or say "start over".'
STORE_DOWN = (
    "I'm having trouble remembering this thread right now, so I can't pick it up. "
    "Give me a minute and ask again."
)
FLOOD_NOTICE = (
    "You're asking faster than I can keep up ({limit} questions a minute). "
    "I'll pause for a moment; ask again in a minute."
)

# --- /kb -----------------------------------------------------------------------------------------------------
LOOKUP_USAGE_INTRO = "*/kb* looks up the knowledge base."
LOOKUP_USAGE_ID = "• `/kb {qid}`: that article (any of its ids, or its file name)"
LOOKUP_USAGE_SEARCH = "• `/kb {search}`: search"
LOOKUP_USAGE_HELP = "• `/kb help`: this text"
RELOADED = (
    "Reloaded the knowledge base: {articles} articles. Other kbbot processes pick it up on `systemctl reload`, "
    "SIGHUP or a restart."
)
RELOAD_FAILED = "Reloading failed; I'm still answering from the knowledge base I had. The logs say why."
RELOAD_NOT_ADMIN = "Only kbbot's admins can reload the knowledge base."

# --- escalation ping (above the summary) ---------------------------------------------------------------------
ESCALATION_PING = "{group} a thread needs a human."  # group: the user group's mention

# --- button labels (plain text, ≤ 75 characters) -------------------------------------------------------------
BTN_WALK = "Walk me through the fix"
BTN_FULL = "Show full article"
BTN_NOT_MINE = "Not my problem"
BTN_FIXED = "It's fixed"
BTN_NEXT = "Next step"
BTN_BACK = "Back"
BTN_WORKED = "It worked"
BTN_FAILED = "Didn't work"
BTN_ESCALATE = "Ask a human"
BTN_SHARE = "Share in channel"
BTN_DIFFERENT = "This is a different problem"
BTN_ESCALATE_NOW = "Ask a human now"
BTN_ARTICLE = "Open article"
BTN_OPEN = "Open {qid}"
BTN_OPEN_THIS = "Open this one"  # beside a short list's entry whose article has no number to name it by
BTN_SHARE_ONE = "Share {qid} in channel"
BTN_SHARE_THIS = "Share in channel"

# --- card labels ---------------------------------------------------------------------------------------------
LABEL_SYMPTOMS = "Symptom"
LABEL_CAUSE = "Cause"
LABEL_RESOLUTION = "Resolution"
LABEL_WORKAROUND = "Workaround"
LABEL_STATUS = "Status"
LABEL_MORE_INFO = "More information"
LABEL_MATCHED_ERROR = "Matched error"
LABEL_REFERENCE = "See also"
TRUNCATED_CARD = "_Cut short to fit in Slack._"
TRUNCATED_ARTICLE = "_The article goes on; this is as much as fits in Slack. `kbbot show {qid}` prints all of it._"

# --- escalation summary ----------------------------------------------------------------------------------------
ESCALATION_TITLE = "Escalation from kbbot"
ESCALATION_FALLBACK = "Escalation: {question}"
ESCALATION_ASKER = "*Asked by:* {user}"  # user: a mention, written by the renderer
ESCALATION_QUESTION = "*Question:*\n{question}"
ESCALATION_ARTICLE = "*Article:* {qid}: {title}"
ESCALATION_NO_ARTICLE = "*Article:* none found"
ESCALATION_TRIED = "*Tried:*\n{tried}"
ESCALATION_NOTHING_TRIED = "*Tried:* no steps"
ESCALATION_OUTCOME = "*Outcome:* {outcome}"
ESCALATION_THREAD = "*Thread:* {link}"
ESCALATION_THREAD_UNKNOWN = "*Thread:* (link not available)"
OUTCOME_FAILED = "the suggested fixes did not work"
OUTCOME_ASKED = "asked for a human before finishing"
OUTCOME_NO_ARTICLE = "no matching article found"
TRIED_STEP = "{qid} method {m}, step {n}: {text} ({outcome})"
TRIED_FAILED = "{qid}: did not work"
STEP_OUTCOME_SHOWN = "shown"
STEP_OUTCOME_DONE = "done"
STEP_OUTCOME_FAILED = "did not fix it"
STEP_OUTCOME_WORKED = "fixed it"
TRIED_RULED_OUT = "{qid}: not the problem"

# --- feedback, App Home, message shortcut (kbbot.slack.feedback / home / shortcut) ---------------------------
BTN_VOTE_UP = "👍 Helpful"
BTN_VOTE_DOWN = "👎 Not helpful"
VOTE_PROMPT = "Was this answer useful?"
VOTE_THANKS = "Thanks, your 👍 is noted."
VOTE_WHY = "Thanks for telling me. What was wrong with it?"
REASON_LABELS = {
    "wrong_article": "Wrong article",
    "did_not_help": "Didn't help",
    "out_of_date": "Out of date",
    "other": "Something else",
}
REASON_THANKS = "Thanks: noted as *{reason}*. It goes into the knowledge-base report."
SHARED_CHANNEL_REFUSED = (
    "I don't answer in channels shared with other organisations. Ask me in a direct message instead."
)
SHORTCUT_CHOOSE = "Find a KB article for this message:"
SHORTCUT_NOT_HERE = (
    "I don't answer in this channel. Ask me in a direct message, or use `/kb some words` to see articles only "
    "you can see."
)
SHORTCUT_NO_TEXT = "That message has no text I can search for."
BTN_SHORTCUT_THREAD = "Answer in the thread"
BTN_SHORTCUT_ME = "Only show me"
HOME_TITLE = "kbbot: answers from the knowledge base"
HOME_HOW_TO = (
    "*How to ask*\n• Mention me in a channel: `@kbbot exchange IMC is losing mail`, or paste the error text\n"
    "• Send me a direct message\n• `/kb Q102087` opens an article, `/kb some words` lists the closest ones\n"
    "• On any message: ⋯ › *Find a KB article for this*"
)
HOME_SEARCH_LABEL = "Search the knowledge base"
HOME_SEARCH_PLACEHOLDER = "an error message, a product, what you see"
HOME_UPDATED = "Updated {at}"
HOME_SEARCH_HINT = "Press Enter to search; the closest articles appear here."
HOME_RESULTS = "*Closest articles for* “{query}”"
HOME_NO_RESULTS = "Nothing in the knowledge base fits “{query}”."
HOME_RECENT = "*Your recent threads*"
HOME_NO_RECENT = "_No threads yet. Ask me something!_"
HOME_ADMIN = "*Last {days} days* (you are a kbbot admin)"
HOME_RATES = (
    "{threads} threads · answered {answer_rate} · resolved {resolution_rate} · escalated {escalated} · "
    "no match {no_match} · 👍 {up} / 👎 {down}"
)
HOME_GAPS = "*Top knowledge gaps*"
HOME_NO_GAPS = "_No knowledge gaps: every question found an article._"
HOME_FAILING = "*Articles that fail most*"
HOME_NO_FAILING = "_No article failed anyone._"
