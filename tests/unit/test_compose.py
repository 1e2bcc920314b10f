"""Extractive drafts composed for the question: answering sentences, whole procedures, own
citations, only cited sources."""

from __future__ import annotations

import pytest

from desktop.core import compose
from desktop.core.compose import extractive
from desktop.core.generation import verify
from desktop.core.knowledge.index import Hit

PASSWORD = (
    "Your password protects your account and your saved payment details. "
    "To reset your password, follow these steps:\n"
    "1. Open the Northwind app and tap Settings.\n"
    "2. Choose Security, then Reset password.\n"
    "3. Enter the code we text to your phone.\n"
    "4. Type your new password twice and tap Save.\n"
    "\n"
    "Our offices are closed on bank holidays."
)
DELIVERY = (
    "Standard delivery takes 2 to 3 working days. Next-day delivery costs £5.99 and must be "
    "ordered before 8pm. Parcels that cannot be delivered are taken to the local depot."
)
FAQ = (
    "Can I pay to get more Duck.ai chats?\n"
    "Not at this time, but we are considering it for the future.\n"
    "Is Duck.ai free?\n"
    "Yes, Duck.ai is free to use within the daily limits."
)
WRAPPED = (
    "A group list is a great way to manage users in a team on your domain. There is no limit\n"
    "to the number of internal recipients and a limit of 250 additional recipients outside\n"
    "of the internal domain.\n"
)


def hit(source: str, text: str, score: float = 0.8, heading: str = "") -> Hit:
    return Hit("demo", source, source, heading, 0, len(text), text, score, rank_score=score)


@pytest.fixture(scope="module")
def embed(embedder):  # type: ignore[no-untyped-def]
    return embedder.embed


@pytest.mark.slow
def test_a_procedure_is_kept_whole_and_in_order(embed) -> None:  # type: ignore[no-untyped-def]
    draft, sources = extractive("How do I reset my password?", [hit("password", PASSWORD)], embed)

    steps = [line for line in draft.splitlines() if line[:2] in {"1.", "2.", "3.", "4."}]
    assert [s[:2] for s in steps] == ["1.", "2.", "3.", "4."], draft
    assert "Type your new password twice and tap Save. [1]" in draft
    assert "bank holidays" not in draft
    assert [s.source for s in sources] == ["password"]


@pytest.mark.slow
def test_off_topic_sentences_from_another_passage_are_left_out(embed) -> None:  # type: ignore[no-untyped-def]
    hits = [hit("delivery", DELIVERY, 0.82), hit("password", PASSWORD, 0.8)]

    draft, sources = extractive("How do I reset my password?", hits, embed)

    assert "delivery" not in draft.lower() and "depot" not in draft
    # Only the cited source is returned, renumbered as [1].
    assert [s.source for s in sources] == ["password"]
    assert verify.citations_in(draft) == [1]


@pytest.mark.slow
def test_every_sentence_cites_its_own_source(embed) -> None:  # type: ignore[no-untyped-def]
    question = "How long does standard delivery take, and how do I reset my password?"
    hits = [hit("password", PASSWORD), hit("delivery", DELIVERY, 0.79)]

    draft, sources = extractive(question, hits, embed)

    passages = [s.text for s in sources]
    for sentence in verify.verify(draft, passages):
        assert sentence.verdict == "supported", sentence
        (number,) = sentence.citations
        body = verify.strip_list_marker(sentence.text.rsplit(" [", 1)[0])
        assert body in " ".join(passages[number - 1].split())


@pytest.mark.slow
def test_a_faq_question_brings_its_answer(embed) -> None:  # type: ignore[no-untyped-def]
    draft, _ = extractive("can i just pay to get more duck ai chats", [hit("faq", FAQ)], embed)

    assert "Not at this time, but we are considering it for the future. [1]" in draft


@pytest.mark.slow
def test_hard_wrapped_sentences_are_not_cut_at_line_ends(embed) -> None:  # type: ignore[no-untyped-def]
    draft, _ = extractive(
        "How many outside people can be on a group list?", [hit("lists", WRAPPED)], embed
    )

    assert "a limit of 250 additional recipients outside of the internal domain. [1]" in draft


def test_without_an_embedding_model_shared_words_decide() -> None:
    draft, sources = extractive(
        "How do I reset my password?", [hit("delivery", DELIVERY), hit("password", PASSWORD)]
    )

    assert "1. Open the Northwind app and tap Settings. [1]" in draft
    assert [s.source for s in sources] == ["password"]


def test_nothing_to_quote_gives_an_empty_draft() -> None:
    assert extractive("Anything?", [hit("empty", "Contents\n\nSee below:")]) == (
        "",
        [hit("empty", "Contents\n\nSee below:")],
    )


SESSIONS = (
    "Note: You have to be root to end other users' sessions.\n\n"
    "1. Check current user sessions by using the w command:\n\n"
    "        ~]# w\n"
    "        USER     TTY      FROM             LOGIN@   IDLE\n"
    "        james    pts/1    ord.secure-acces 17:49    5.00s\n\n"
    "2. Log off a user:\n\n"
    "        ~]# pkill -KILL -u james\n\n"
    "Sessions that are logged off lose unsaved work."
)


def test_code_lines_are_not_joined_by_unwrap() -> None:
    from desktop.core import text

    unwrapped = text.unwrap(SESSIONS)
    assert len(unwrapped) == len(SESSIONS)
    assert "\n        ~]# pkill -KILL -u james\n" in unwrapped
    assert "~]# w\n        USER" in unwrapped  # a command and its output stay two lines
    assert text.unwrap("a wrapped\nline.") == "a wrapped line."


@pytest.mark.slow
def test_a_step_that_introduces_a_command_brings_the_command(embed) -> None:  # type: ignore[no-untyped-def]
    draft, _ = extractive(
        "How do I log off another user's session on Linux?", [hit("sessions", SESSIONS)], embed
    )
    lines = draft.splitlines()
    assert "    ~]# pkill -KILL -u james [1]" in lines  # verbatim, on its own line
    assert lines.index("2. Log off a user: [1]") < lines.index("    ~]# pkill -KILL -u james [1]")
    assert "lose unsaved work" not in draft


@pytest.mark.slow
def test_a_sentence_is_read_under_its_heading(embed) -> None:  # type: ignore[no-untyped-def]
    question = "can i just pay to get more duck ai chats"
    free = "Yes, Duck.ai is free to use within the daily limits."
    more = "Not at this time, but we are considering it for the future."
    # Two passages of one FAQ article: the search's order does not choose between them.
    hits = [hit("faq", free, heading="Is Duck.ai free?")]
    hits.append(hit("faq", more, heading="Can I pay to get more Duck.ai chats?"))

    draft, sources = extractive(question, hits, embed)

    # "Not at this time" answers the question only under the heading that asks it.
    assert draft.startswith(more), draft
    assert sources[0].heading == "Can I pay to get more Duck.ai chats?"


@pytest.mark.slow
def test_the_search_s_first_article_leads(embed) -> None:  # type: ignore[no-untyped-def]
    change = "To change your password, open Settings and choose Security, then Change password."
    reset = "Reset your password from the sign-in page if you cannot sign in."
    question = "How do I reset my password?"

    for first, second in ((change, reset), (reset, change)):
        hits = [hit("first", first, 0.5), hit("second", second, 0.9)]

        draft, sources = extractive(question, hits, embed)

        # The search's order leads (it read whole passages and the question's telling words),
        # though the other sentence may read closer and its relevance be higher.
        assert draft.startswith(first) and sources[0].source == "first", draft


@pytest.mark.slow
def test_another_article_is_cited_only_for_question_words_the_lead_lacks(embed) -> None:  # type: ignore[no-untyped-def]
    reset = "Reset your password from the sign-in page if you cannot sign in."
    locked = "If you reset your password too often your account is locked for an hour."
    sms = "The reset code comes by text message to the phone number on your account."

    draft, sources = extractive(
        "How do I reset my password?", [hit("a", reset), hit("b", locked)], embed
    )
    # "locked" is about as close, but says nothing of the question the lead article does not.
    assert [s.source for s in sources] == ["a"], draft

    question = "How do I reset my password and where does the code come?"
    draft, sources = extractive(question, [hit("a", reset), hit("c", sms)], embed)
    # "code" is a question word only the other article has: it is cited too.
    assert [s.source for s in sources] == ["a", "c"], draft


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "leads"),
    [
        ("Should I restart or reset my router?", "advice"),
        ("How much does it cost to rent the router?", "price"),
        ("How do I reset my router?", "reset"),
    ],
)
def test_a_price_or_a_recommendation_is_led_by_an_article_stating_one(
    embed, question: str, leads: str
) -> None:  # type: ignore[no-untyped-def]
    hits = [
        hit("reset", "Hold the pinhole button of the router for 10 seconds to reset it."),
        hit("advice", "We recommend restarting the router first; reset it only if that fails."),
        hit("price", "Renting the router costs £4.50 a month."),
    ]

    _, sources = extractive(question, hits, embed)

    assert sources[0].source == leads


@pytest.mark.slow
def test_the_lead_article_is_read_beyond_the_passages_the_search_returned(embed) -> None:  # type: ignore[no-untyped-def]
    question = "Is there a cap on how much I can use the AI chat?"
    intro = "The AI chat lets you talk to popular chat models privately and for free."
    limits = "There is a daily limit on usage, to keep the service free for everyone."
    unrelated = "Chats are stored locally on your device and can be deleted with the Fire Button."
    asked: list[Hit] = []

    def article(first: Hit) -> list[Hit]:
        asked.append(first)
        return [first, hit("chat", limits, heading="Usage limits")]

    hits = [hit("chat", intro), hit("recent", unrelated, 0.7)]
    draft, sources = extractive(question, hits, embed, article=article)

    # The search returned only the article's introduction; the passage stating the limit is read
    # too (the passage already held is not added twice) and cited as a source of its own.
    assert [h.source for h in asked] == ["chat"]
    assert f"{limits} [2]" in draft and draft.count("The AI chat lets you") == 1, draft
    assert [(s.source, s.heading) for s in sources] == [("chat", ""), ("chat", "Usage limits")]
    assert "limit" not in extractive(question, hits, embed)[0]


def test_steps_written_with_two_spaces_are_quoted_whole() -> None:
    steps = (
        "1.  Log in to the MyRackspace Portal.\n"
        "2.  In the top navigation bar, click Select a Product > Dedicated Hosting.\n"
        "3.  Click Products > Cloud Office."
    )
    draft, _ = extractive("How do I open the Cloud Office panel?", [hit("office", steps)], None)

    assert draft.splitlines()[0] == "1. Log in to the MyRackspace Portal. [1]", draft
    assert "1. [1]" not in draft and "[1] Log in" not in draft


BALANCER = (
    "5. In the Configuration section, choose where the virtual IP is reached from:\n"
    "\n"
    "    - Accessible on the Public Internet: a public virtual IP lets any two servers\n"
    "      with public addresses be load balanced.\n"
    "    - Accessible only on the private network: the servers must be in one region.\n"
    "\n"
    "6. Check the summary of your load balancer settings.\n"
    "\n"
    "        $ lb show --summary\n"
)


def test_an_indented_item_inside_a_list_is_prose_not_code() -> None:
    """CommonMark: in "5. ..." a nested item indented four is the item's content; code needs
    four more than the item's text (the command under step 6)."""
    from desktop.core import text

    lines = BALANCER.splitlines()
    code = text.code_lines(BALANCER)
    assert {lines[n].strip() for n in code} == {"$ lb show --summary"}
    # The nested item's wrapped line is joined to it, so it is one sentence, not two code lines.
    assert "servers       with public" in text.unwrap(BALANCER)


@pytest.mark.slow
def test_a_nested_list_is_drafted_as_sentences_with_single_spaces(embed) -> None:  # type: ignore[no-untyped-def]
    draft, _ = extractive(
        "Which virtual IP lets servers with public addresses be load balanced?",
        [hit("lb", BALANCER)],
        embed,
    )
    assert (
        "- Accessible on the Public Internet: a public virtual IP lets any two servers with "
        "public addresses be load balanced. [1]"
    ) in draft.splitlines(), draft


@pytest.mark.slow
def test_passages_of_one_article_are_drafted_in_the_article_s_order(embed) -> None:  # type: ignore[no-untyped-def]
    """The search ranked the passage with the procedure's last steps first: the draft still
    reads from the first step."""
    first = (
        "1. Log in to the Cloud Control Panel.\n"
        "2. Select Networking > Load Balancers.\n"
        "3. Click Create Load Balancer.\n"
    )
    last = (
        "9. In the Add Nodes section, click Add Cloud Servers to put servers behind the load "
        "balancer.\n"
        "10. Click Create Load Balancer to finish creating the load balancer.\n"
    )
    question = "How do I create a load balancer in the Cloud Control Panel and add servers?"
    article = [
        Hit("demo", "lb", "Load balancers", "", 900, 900 + len(last), last, 0.9),
        Hit("demo", "lb", "Load balancers", "", 0, len(first), first, 0.8),
    ]
    draft, sources = extractive(question, article, embed)
    steps = [line.split(".")[0] for line in draft.splitlines()]
    assert steps[:3] == ["1", "2", "3"] and "9" in steps, draft
    assert [s.start for s in sources] == [0, 900]


def test_a_drafted_sentence_has_no_markdown_a_customer_would_see() -> None:
    from desktop.core.compose import plain_inline

    assert plain_inline(
        "Log in to the [Cloud Control Panel](https://login.rackspace.com) and click "
        "**Select a Product > Rackspace Cloud**."
    ) == (
        "Log in to the Cloud Control Panel (https://login.rackspace.com) and click "
        "Select a Product > Rackspace Cloud."
    )
    # A link within the site keeps its text only; a bare address once; images go; code stays.
    assert plain_inline("See [this page](/mobile/ios/) ![icon](x.png)") == "See this page"
    assert plain_inline("Visit [https://duck.ai](https://duck.ai).") == "Visit https://duck.ai."
    assert (
        plain_inline("Run `sudo  reboot` now, **then** wait.")
        == "Run `sudo reboot` now, then wait."
    )
    assert plain_inline('> Note: see this guide{:target="_blank"} first.') == (
        "Note: see this guide first."
    )
    # Markdown's backslash escapes are read as a reader sees them, but not inside code.
    assert plain_inline(r"Set the \_blank target \*now\*, then run `a\_b`.") == (
        r"Set the _blank target *now*, then run `a\_b`."
    )


@pytest.mark.slow
def test_an_extractive_draft_is_plain_text_and_still_verified(embed) -> None:  # type: ignore[no-untyped-def]
    text = (
        "1. Log in to the [Cloud Control Panel](https://login.rackspace.com).\n"
        "2. In the top navigation bar, click **Select a Product > Rackspace Cloud**.\n"
        "3. Select **Networking > Load Balancers**.\n"
    )
    draft, sources = extractive("How do I open the load balancers page?", [hit("lb", text)], embed)
    assert "**" not in draft and "](" not in draft, draft
    assert "3. Select Networking > Load Balancers. [1]" in draft.splitlines()
    sentences = verify.verify(draft, [s.text for s in sources])
    assert sentences and all(s.verdict == "supported" for s in sentences), sentences


@pytest.mark.slow
def test_steps_all_numbered_one_are_drafted_as_markdown_shows_them(embed) -> None:  # type: ignore[no-untyped-def]
    """Markdown numbers "1. 1. 1." as 1, 2, 3 (the DuckDuckGo help centre writes every step
    "1."); a new list after a paragraph starts again."""
    text = (
        "You can turn off crash reports shared with app developers.\n\n"
        "1. Open Settings.\n"
        "1. Tap Privacy and then Analytics & Improvements.\n"
        '1. Turn off **Share with App Developers**.{:target="_blank"}\n'
    )
    draft, _ = extractive(
        "How do I turn off sharing crash reports with app developers in Settings?",
        [hit("privacy", text)],
        embed,
    )
    steps = [line.split(" ")[0] for line in draft.splitlines() if line[:1].isdigit()]
    assert steps == ["1.", "2.", "3."], draft
    assert "3. Turn off Share with App Developers. [1]" in draft.splitlines(), draft


def test_a_procedure_with_many_nested_lines_keeps_its_steps() -> None:
    text = "\n".join(
        f"{n}. Step {n} does thing {n}.\n"
        + "".join(f"    - Detail {n}.{k} here.\n" for k in range(4))
        for n in range(1, 7)
    )
    found = compose.pieces(text, 0, "a")
    at = next(p for p in found if p.text == "- Detail 3.2 here.")
    kept = [p.text for p in compose.procedure(found, at)]
    assert [t for t in kept if t[0].isdigit()] == [
        f"{n}. Step {n} does thing {n}." for n in range(1, 7)
    ]
    assert "- Detail 3.2 here." in kept and len(kept) == 7
