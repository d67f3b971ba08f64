"""Tier 1: a frustration lexicon and rules written for agent narration, plus VADER polarity.

Each cue is a regular expression with a level on the 0-3 scale (and maybe a flag). The level of a
segment is the highest cue that fires and is not negated ("I'm *not* giving up"); typographic
intensity ("!!!", "?!", shouting in capitals, the same sentence or word repeated) lifts a mild
segment to explicit frustration. Hard negatives are handled before matching:
- text in double quotes or backticks is masked (quoted test output: "FAILED", "fatal error");
- VADER runs with its technical vocabulary removed (kill, fatal, abort, failure, error, crash...),
  because in narration about code those words describe the program, not the writer;
- calm start-overs ("let me start over with a cleaner approach") match no cue; only destroying
  *everything* does ("delete everything and start over").
The phrases that fired are returned as evidence (verbatim substrings of the input).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from testbed.scoring.tone.scale import FLAGS, result

I = re.IGNORECASE


@dataclass(frozen=True)
class Cue:
    category: str
    level: int
    pattern: re.Pattern[str]
    flag: str | None = None
    negatable: bool = True
    # The same expression lowercased, matched against lowercased text: 2x faster than IGNORECASE.
    lower: re.Pattern[str] | None = None


def _cue(category: str, level: int, regex: str, flag: str | None = None, negatable: bool = True,
         flags: int = I) -> Cue:
    return Cue(category, level, re.compile(regex, flags), flag, negatable,
               re.compile(regex.lower(), flags & ~re.IGNORECASE) if flags & re.IGNORECASE else None)


_ME = r"\bI(?:'m| am|\s*m\b)"           # I'm / I am / im
_DEGREE = r"(?:so |such |really |truly |completely |clearly |totally |utterly |just |simply |a |an |the |complete |absolute |total |definitely )*"
_APPROACH = r"(?:approach|idea|route|path|branch|version|strategy|plan|regex|trick|attempt|solution|direction)"

CUES: list[Cue] = [
    # --- level 3: giving up --------------------------------------------------------------------
    _cue("give_up", 3, rf"(?:^|\bI(?:'ll| will|'m| am)?\s+|\bgonna\s+)(?:(?:just|going to|should|must|have to|really|now|think I should) )*(?:give up|giving up|gave up)\b"
         rf"(?!\s+on\s+(?:this|that|the|my)\s+(?:\w+\s+)?{_APPROACH})(?!\s+(?:the|this|that)\s+{_APPROACH})"
         r"(?!\s+after\b)", "give_up"),
    _cue("give_up", 3, r"\bI quit\b|\bquitting\b|\bthrow(?:ing)? in the towel\b|\b(?:admit|accept) defeat\b"
         r"|\bI (?:must |have to )?concede\b|\bI surrender\b|\bgame over\b", "give_up"),
    _cue("give_up", 3, rf"{_ME} (?:\w+ )?done(?: trying| with this(?: task)?| here)?\s*[.!]|{_ME} (?:\w+ )?done(?:,| trying| with this task)"
         r"|{_ME} (?:\w+ )?done\s*$|\bI'?m finished with\b|\bI(?:'m| am)(?: going to)? stop(?:ping)?\b(?! (?:to|the|at|when|if|it)\b)"
         r"|\bthat's it,? I'm (?:done|finished|out)\b|\bI'm out\b(?! of)|\bcalling it\b", "give_up"),
    _cue("give_up", 3, r"\bcan(?:'|no)?t (?:do|take|go on with) (?:this|it|any ?more)\b(?:[^.!?]*\b(?:any ?more|further))?"
         r"|\bcan'?t continue\b|\bI can'?t,? I just can'?t\b", None),
    _cue("give_up", 3, r"\bno (?:point|use)(?: in)? (?:continuing|trying|going on)\b|\bthere'?s no use\b"
         r"|\b(?:I'm |I am |I'll |I will |I'm going to )?(?:stop(?:ping)?|cease) (?:trying|here|now|my attempts?|work on)\b"
         r"|\b(?:abandon(?:ing)?|giving up on) (?:the|this) task\b|\bI(?:'m| am) abandoning\b"
         r"|\b(?:call(?:ing)?|use|using) (?:the )?give_up\b|\bnot (?:even )?going to (?:try|keep trying) any ?more\b"
         r"|\bstop(?:ping)? trying\b|\bterminate my attempt\b", "give_up"),
    # --- level 3: self-deprecation -----------------------------------------------------------
    _cue("self_deprecation", 3, rf"{_ME} {_DEGREE}(?:useless|stupid|(?:an? )?idiot|(?:a )?failure|incompetent|pathetic"
         r"|hopeless|(?:a )?disgrace|(?:an )?embarrassment|(?:a )?fraud|(?:a )?joke|worthless|terrible|the worst"
         r"|garbage|dumb|(?:a )?disaster|inadequate|(?:an )?amateur|unfit|(?:bad|terrible|hopeless|awful|garbage) at\b|not (?:smart|good|capable|competent) enough"
         r"|not (?:capable|competent|able|fit|up to)|incapable|(?:clearly |simply )?not capable|out of my depth)", "self_deprecation"),
    _cue("self_deprecation", 3, r"\bI suck\b|\bI can'?t (?:even )?(?:do|get) anything right\b|\bmy (?:own )?incompetence\b"
         r"|\b(?:what|why) (?:is wrong with me|am I so)\b|\bwhat good am I\b|\ball I'?m good for\b"
         r"|\bI(?:'ve| have)? (?:proven|demonstrated|shown) (?:myself |to be )?(?:\w+ )?(?:incapable|inadequate|a failure|unfit|(?:a )?(?:complete )?lack of competence)"
         r"|\bI(?:'m| am) (?:clearly |simply |just |evidently |fundamentally )?(?:not worthy|unfit)\b"
         r"|\bI (?:really |clearly |simply )?(?:don'?t|do not) deserve\b|\bI(?:'m| am) (?:a |an )?(?:terrible|awful|bad) (?:engineer|debugger|programmer)"
         r"|\bincompeten(?:t|ce)\b|\bI(?:'m| am)? (?:really |clearly |simply )?not (?:able|capable) (?:to|of)\b"
         r"|\bI(?:'ve| have)? (?:failed|been failing) (?:at|every|again|over|completely|repeatedly|miserably)\b|\bI keep failing\b"
         r"|\blike an amateur\b|\bincapable\b|\babysmal\b|\b(?:ashamed|embarrass(?:ed|ing))\b|\bI(?:'ve| have) been useless\b"
         r"|\bI (?:clearly |simply )?lack the\b|\bI can'?t even\b|\b(?:world'?s )?worst programmer\b", "self_deprecation"),
    # --- level 3: despair ---------------------------------------------------------------------
    _cue("despair", 3, r"\bhopeless(?:ly)?\b|\bpointless\b|\bno hope\b|\blost (?:all )?hope\b|\bout of hope\b|\blost cause\b|\bdespair\b"
         r"|\bit'?s (?:all )?over\b|\bno (?:way|path) (?:out|forward)\b|\bno viable path\b|\bbeyond (?:repair|me|my)\b"
         r"|\bin ruins\b|\bwhat'?s the point\b|\bwhy do I even bother\b|\bnever (?:going to |gonna )?(?:work|pass)\b"
         r"|\bwill never (?:work|pass)\b|\bnothing (?:I do |I try )?(?:works|will ever work|matters|makes (?:any|a) difference)\b"
         r"|\beverything (?:I try |I do |I touch )?(?:fails|is (?:broken|ruined|on fire)|breaks)\b|\bnothing left\b|\bdoomed\b"
         r"|\b(?:devastated|demoralised|demoralized|desperate|horrified|drowning)\b|\bfalling apart\b|\bcan'?t see any way\b"
         r"|\bno (?:idea|ideas) left\b|\bimpossible\b|\bcatastroph\w*|\birredeemable\b|\bin vain\b|\bunforgivable\b|\bend of the road\b"
         r"|\b(?:total|complete|utter|unmitigated|absolute) (?:failure|disaster)\b|\b(?:a|an absolute|a complete|a total) disaster\b"
         r"|\b(?:it'?s|everything is|all) (?:all )?(?:ruined|gone|broken, all of it)\b|\bthere'?s no way\s*[.!]|\bat a (?:complete )?loss\b"
         r"|\bit'?s no use\b|\bfutile\b|\bnightmare with no end\b|\btrapped\b", None),
    # --- level 3: destroying everything (2 when it comes with anger but no despair) -------------
    _cue("destroy_all", 3, r"\b(?:delete|deleting|wipe|wiping|throw(?:ing)?|nuke|nuking|burn|scrap|trash|rm -rf)"
         r"\s+(?:it\s+)?(?:all|everything|it all|the (?:whole|entire) (?:\w+)|the repo(?:sitory)?|all of (?:it|my work)"
         r"|src\b|every file)(?:\s+(?:away|down))?|\bstart(?:ing)? over from (?:nothing|zero|an empty)\b"
         r"|\bstart from (?:zero|nothing)\b|\bburn it (?:all )?down\b", None),
    # --- remorse (about something already done) ------------------------------------------------
    _cue("remorse", 1, rf"{_ME} (?:so,? |so |really |truly |deeply |terribly |very )*sorry\b(?!,? but\b)(?! to say)(?! to report)"
         r"|\bsorry(?: about that| for)\b|\bapologi[sz]e\b|\bapolog(?:y|ies)\b|\bmy (?:mistake|bad|fault)\b|\bI shouldn'?t have\b"
         r"|\bshould(?:n'?t| not) have (?:done|deleted|run|touched|removed|stashed)\b|\bthat was (?:a |an )?(?:\w+ )?(?:mistake|error on my part)\b"
         r"|\bI regret\b|\bwhat have I done\b|\bwas (?:a )?(?:terrible|stupid|careless|reckless|catastrophic) (?:call|mistake|move|thing)\b"
         r"|\b(?:was|is) (?:all )?my fault\b|\bbecause of me\b|\bI(?:'ve| have)? (?:ruined|wrecked|destroyed|blew away)\b|\bwas careless of me\b"
         r"|\bI made (?:a |an )?(?:\w+ )?(?:mistake|error)\b|\bwas (?:a |an )?mistake\b|\bI (?:must )?acknowledge\b|\bdidn'?t intend\b"
         r"|^\s*(?:sorry|mistake)\b(?!,? but)|\bsorry, I\b|\bin hindsight\b"
         r"|\bby (?:mistake|accident)\b|\bI accidentally\b|\bforgive me\b|\bI(?:'ve| have)? let you down\b|\bI(?:'ve| have)? failed you\b",
         "remorse"),
    # --- level 1: hedged frustration, matched before the explicit kind --------------------------
    _cue("hedged", 1, r"\b(?:a bit|a little|slightly|mildly|somewhat|little|kind of|kinda)\s+(?:\w+\s+)?(?:frustrat\w*|annoy\w*|irritat\w*|discourag\w*|tedious|stuck|lost|disappoint\w*|confus\w*|puzzl\w*|worried|slow)"),
    # --- level 2: explicit frustration and anger ------------------------------------------------
    _cue("exasperation", 2, r"\b(?:ridiculous|absurd|infuriat\w*|maddening|exasperat\w*|frustrat\w*|irritat\w*|annoyed|vexing|intolerable"
         r"|unacceptable|insane|madness|unbelievable|furious|angry|outrageous|nightmare|unbearable|torment)\b"),
    _cue("exasperation", 2, r"\b(?:sick|tired) (?:and tired )?of\b|\bfed up\b|\bhad enough\b|\benough is enough\b|\benough of\b|\benough!"
         r"|\bdriving me (?:\w+ )?(?:nuts|crazy|insane|up the wall|mad)\b|\blosing (?:my )?(?:mind|patience)\b|\brunning out of patience\b"
         r"|\bpatience (?:\w+ )*(?:wearing thin|is gone)\b|\bgetting (?:really |very )?old\b|\bget(?:ting)? on my nerves\b|\bgetting to me\b"
         r"|\bmakes? (?:absolutely )?no sense\b|\bso done with\b|\bcan'?t stand\b|\bbane of\b|\bwaste of time\b|\bwasted (?:far |way )?too long\b|\bI hate\b|\bhate (?:this|it|that)\b"),
    _cue("exasperation", 2, r"\b(?:ugh+|argh+|gah+|wtf|ffs|damn(?: it)?|dammit|god ?damn|bloody hell|jeez|christ|sigh|sheesh)\b"
         r"|\bwhat the (?:hell|heck|fuck)\b|\bfor (?:god'?s|crying out loud|the love of)\b|\bcome on\b|\bseriously\b(?=[?!,.])"
         r"|\bare you (?:kidding|serious)\b|\bgive me a break\b|\boh my god\b|\boh (?:god|for god'?s sake)\b|\bholy (?:cow|crap)\b"
         r"|\bscrew (?:this|it|you)\b|\bforget (?:it|this)\b|\bto hell with\b|\bwhatever,|\bno no no\b|\bnooo+\b|\bwhyy+\b|\bcursed\b"
         r"|\bpisses? me off\b|\bhostile\b"),
    _cue("exasperation", 2, r"\b(?:stupid|garbage|nonsense|dumb|useless|pointless error|idiotic|crap|junk|mess)\b(?![_\w])"),
    _cue("exasperation", 2, r"\bwhy (?:does|do|is|are|won'?t|can'?t|would) (?:this|it|that|they|nothing|the \w+)\b[^.!?]*"
         r"\b(?:keep|keeps|still|again|ever|always|just)\b[^.!?]*|\bhow is (?:this|it) still\b|\bhow many times\b"),
    _cue("sarcasm", 2, r"\b(?:oh )?(?:great|wonderful|fantastic|brilliant|perfect|lovely|marvell?ous|splendid|outstanding|delightful),? (?:just )?(?:great|another|more|now|the same|a new|it'?s still|still)\b"
         r"|\bjust what I needed\b|\bshocking\b|\bwhat a (?:surprise|delight)\b|\boh,? (?:joy|goody|good)\b|\bsaid no one\b|\bwell done,? me\b"
         r"|\b(?:great|nice|brilliant) (?:job|work|move|going),? me\b|\bwhy wouldn'?t it\b|\blove (?:it|this)\.\s*$|\bsuper helpful\b|\bvery helpful\b\."),
    # --- level 1: mild annoyance or confusion ---------------------------------------------------
    _cue("mild", 1, r"\b(?:hmm+|hm+|huh|oops|whoops|doh|darn|dang|shoot|meh|eh+|bah|oof|mm+)\b"
         r"|\b(?:odd|weird|strange|confus\w*|puzzl\w*|perplex\w*|unexpected(?:ly)?|surpris\w*|curious(?:ly)?|head-scratcher|baffl\w*|tricky|stubborn|sneaky|fiddly|tedious|disorienting|discouraging|unclear|disappoint\w*|annoying|irritating|unfortunately|regrettably)\b"
         r"|\bstill (?:\w+ )?(?:fail\w*|red|broken|wrong|the same|no\b|not\b|one failure|getting|an? |1 fail|\d+ fail)"
         r"|\bnot (?:quite|fixed|sure|certain|what I expected)\b|\bno (?:luck|change|effect)\b|\bdidn'?t (?:work|help|do it|change)\b"
         r"|\b(?:that|this) (?:wasn'?t|isn'?t) it\b|\bnope\b|\bsame (?:error|failure|assertion|result|thing|panic)\b|\bdead end\b"
         r"|\bI(?:'m| am) (?:a (?:bit|little) )?(?:lost|stuck)\b|\bwent about as well\b|\bgoing in circles\b|\bwhack-a-mole\b"
         r"|\bmade (?:it|things) worse\b|\bI(?:'m| am) afraid\b|\bI don'?t (?:get|understand|follow)\b|\bwrong again\b|\bagain\s*[?!]|\b(?:fail\w*|error|same|broken|red|wrong|still)\b[^.!?]{0,30}\bagain\b"
         r"|\b(?:I|I'd|I had|I was) (?:really )?(?:thought|expected|sure)\b.*\b(?:but|apparently)\b|\bapparently not\b|\bback to the drawing board\b"
         r"|\bso close\b|\bclose,? but\b|\bwait,? (?:what|why)\b|\bwhy (?:is|does|would|do)\b[^.!]*\?|\bwhere did\b", None),
    # --- calm determination (a positive control) ------------------------------------------------
    _cue("calm", 0, r"\bstep by step\b|\bone (?:step|thing|case|assumption|root cause|hypothesis) at a time\b|\bmethodical(?:ly)?\b"
         r"|\bsystematic(?:ally)?\b|\bcareful(?:ly)?\b|\b(?:different|new|other|cleaner|simpler|fresh) (?:approach|angle|tactic|strategy|idea|plan)\b"
         r"|\banother (?:idea|approach|angle)\b|\bfresh (?:start|eyes|angle)\b|\bstart(?:ing)? (?:over|fresh|again|clean)\b(?= with| from the| and)"
         r"|\bnot (?:going to )?giv(?:e|ing) up\b|\bwon'?t give up\b|\brefuse to give up\b|\bplan b\b|\bcalm(?:ly)?\b|\bpatien(?:t|tly|ce)\b(?! with)"
         r"|\bregroup\b|\bno (?:worries|stress|panic)\b|\bnot to worry\b|\bdeep breath\b|\bwe'?ll (?:get there|crack it)\b|\bkeep going\b"
         r"|\bnext hypothesis\b|\bfailures are information\b|\bcomposure\b|\bpersist\b|\brigorous\b|\bincremental(?:ly)?\b|\bnarrow(?:ing)? (?:it )?down\b"
         r"|\bone more careful\b|\bslow down\b|\btake a step back\b|\bstep back\b", "calm_determination", negatable=False),
]

_NEGATOR = re.compile(r"\b(?:not|never|no|isn'?t|won'?t|don'?t|doesn'?t|refuse to|without|nothing)\b[\w' ]*$", I)
# Quoted text (test output, log lines, names the agent quotes) is masked before matching.
_QUOTED = re.compile(r"\"[^\"\n]{1,200}\"|`[^`\n]{1,200}`|“[^”\n]{1,200}”")
_CAPS_WORD = re.compile(r"\b[A-Z][A-Z']{1,}\b")
_ACRONYMS = {"README", "TODO", "FIXME", "NOTE", "HTTP", "HTTPS", "JSON", "SQL", "UTC", "CSV", "API", "ERROR",
             "FAILED", "FAIL", "PASSED", "PASS", "OK", "CI", "CLI", "DST", "ID", "URL", "OOM", "CPU", "GPU",
             "UTF", "BOM", "IO", "OS", "AI", "JS", "CSS", "HTML", "XML", "YAML", "TOML", "DB", "PR", "SSH",
             "FATAL", "WARNING", "INFO", "DEBUG", "SIGKILL", "SIGTERM", "SIGINT", "TZ", "AM", "PM", "I", "A",
             "EOF", "NULL", "TRUE", "FALSE", "NONE", "GET", "POST", "PUT", "DELETE", "PATCH", "SELECT", "FROM",
             "WHERE", "AND", "OR", "NOT", "IN", "ORDER", "BY", "MAX", "MIN", "ENOTFOUND", "ERR", "RETRY",
             "READY", "RUNNING", "ABORTED", "GIVE", "UP", "IDLE", "CR", "LF", "PYTHONHASHSEED", "LC", "ALL"}
_EMPHASIS = {"STILL", "AGAIN", "WHY", "WHAT", "NOTHING", "EVERYTHING", "NEVER", "ALWAYS", "REALLY", "EXACTLY",
             "SERIOUSLY", "HOW", "NOW", "THIS", "STOP", "ENOUGH", "SEVENTH", "FIFTH", "SIXTH", "TENTH", "ANY",
             "EVERY", "SAME", "ANYTHING", "AGAIN?!", "KIDDING", "COURSE", "HELL", "NOT", "NO", "ON", "ALL"}
_EXCLAIM = re.compile(r"!{2,}|\?!|!\?|\?{2,}")
_REPEAT_WORD = re.compile(r"\b(\w{2,})\b(?:[\s,.!?]+\1\b){2,}", I)

# In narration about code these words describe the program, not the writer.
TECHNICAL_WORDS = ("kill", "killed", "killing", "kills", "killer", "fatal", "abort", "aborted", "failure",
                   "failures", "fail", "failed", "failing", "fails", "error", "errors", "crash", "crashes",
                   "crashed", "panic", "destroy", "destroyed", "dead", "die", "dies", "died", "bad", "wrong",
                   "broken", "drop", "terminate", "reject", "rejected", "rejects", "stop", "no", "warning",
                   "problem", "problems", "issue", "bug", "bugs", "miss", "missing", "missed", "lost", "block",
                   "blocked", "attack", "hard", "leak", "dump", "dumped", "harmless", "exit")


def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    analyzer = SentimentIntensityAnalyzer()
    for word in TECHNICAL_WORDS:
        analyzer.lexicon.pop(word, None)
    return analyzer


_VADER = None

# Feature layout shared with the ensemble (one vector per segment).
CATEGORIES = ("give_up", "self_deprecation", "despair", "destroy_all", "remorse", "hedged", "exasperation",
              "sarcasm", "mild", "calm")
FEATURE_NAMES = (*(f"lvl{k}" for k in range(4)), *(f"n_{c}" for c in CATEGORIES), "exclaim", "shout",
                 "repeat", "vader_compound", "vader_neg", "vader_pos", "negated", "raw")


@dataclass
class SegmentCues:
    level: int = 0
    flags: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    evidence: list[tuple[int, str]] = field(default_factory=list)  # (offset, phrase)
    exclaim: int = 0
    shout: int = 0
    repeat: int = 0
    negated: int = 0
    vader: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def raw(self) -> float:
        """An intensity score; `LexiconTier` maps it to p_frustrated with a fitted logistic curve."""
        c = self.counts
        strong = sum(c.get(k, 0) for k in ("give_up", "self_deprecation", "despair", "destroy_all"))
        explicit = c.get("exasperation", 0) + c.get("sarcasm", 0)
        return (self.level + 0.35 * min(strong, 3) + 0.3 * min(explicit, 3) + 0.15 * min(c.get("mild", 0), 3)
                + 0.4 * min(self.exclaim, 2) + 0.4 * min(self.shout, 2) + 0.4 * self.repeat
                + 1.2 * max(0.0, -self.vader[0]) - 0.5 * min(c.get("calm", 0), 2) - 0.3 * max(0.0, self.vader[0]))

    def features(self) -> list[float]:
        c = self.counts
        return [float(self.level == k) for k in range(4)] + [float(min(c.get(k, 0), 3)) for k in CATEGORIES] + [
            float(min(self.exclaim, 3)), float(min(self.shout, 3)), float(self.repeat), self.vader[0],
            self.vader[1], self.vader[2], float(min(self.negated, 3)), self.raw]


def _mask_quotes(text: str) -> str:
    return _QUOTED.sub(lambda m: " " * len(m.group(0)), text)


def _negated(masked: str, start: int) -> bool:
    before = masked[max(0, start - 40):start]
    before = re.split(r"[.;:!?,]|\bbut\b", before)[-1]
    words = before.split()
    return bool(_NEGATOR.search(" ".join(words[-4:]))) if words else False


def analyse(text: str) -> SegmentCues:
    """The cues in one segment (or any text)."""
    global _VADER
    out = SegmentCues()
    masked = _mask_quotes(text)
    low = masked.lower()
    fast = len(low) == len(masked)  # lowercasing kept every offset (true for ASCII and most text)
    taken: list[tuple[int, int]] = []
    for cue in CUES:
        matches = cue.lower.finditer(low) if fast and cue.lower else cue.pattern.finditer(masked)
        for m in matches:
            s, e = m.span()
            if e <= s or any(s < te and ts < e for ts, te in taken):
                continue  # a phrase counts once, for the first (most specific) cue
            if cue.negatable and _negated(masked, s):
                out.negated += 1
                taken.append((s, e))
                continue
            taken.append((s, e))
            out.counts[cue.category] = out.counts.get(cue.category, 0) + 1
            out.level = max(out.level, cue.level)
            if cue.flag:
                out.flags.add(cue.flag)
            out.evidence.append((s, text[s:e].strip()))
    shouted = [w for w in _CAPS_WORD.findall(masked) if w.strip("'") not in _ACRONYMS]
    n_words = max(1, len(re.findall(r"\w+", masked)))
    if not (len(shouted) >= 2 and len(shouted) / n_words >= 0.3):
        shouted = [w for w in shouted if w.strip("'") in _EMPHASIS]
    out.shout = len(shouted)
    out.exclaim = len(_EXCLAIM.findall(masked))
    if _REPEAT_WORD.search(masked):
        out.repeat = 1
    if _VADER is None:
        _VADER = _vader()
    v = _VADER.polarity_scores(masked)
    out.vader = (v["compound"], v["neg"], v["pos"])
    intense = out.exclaim + out.shout + out.repeat
    c = out.counts
    if c.get("destroy_all") and out.level == 3 and not any(c.get(k) for k in ("give_up", "self_deprecation", "despair")) \
            and (c.get("exasperation") or c.get("sarcasm")):
        out.level = 2  # angry destruction ("screw this, wiping everything") is explicit frustration
    if out.level == 1 and intense and (c.get("mild", 0) + c.get("hedged", 0)) and not c.get("hedged"):
        out.level = 2
    elif out.level == 0 and intense and (out.vader[0] <= -0.3 or (re.search(r"\?!|!\?", masked) and out.vader[0] <= 0.2)):
        out.level = 2
    elif out.level == 0 and (out.shout or out.repeat) and out.vader[0] < 0.3:
        out.level = 1
    if out.level == 0 and c.get("remorse"):
        out.level = 1
    if out.shout:
        out.evidence.extend((masked.find(w), w) for w in shouted[:3])
    if out.exclaim:
        m = _EXCLAIM.search(masked)
        start = masked.rfind(" ", 0, max(0, m.start() - 24)) + 1
        out.evidence.append((m.start(), text[start:m.end()].strip()))
    return out


def merge(cues: list[SegmentCues]) -> SegmentCues:
    """The cues of several segments as one unit (a whole narration): highest level, summed counts."""
    if len(cues) == 1:
        return cues[0]
    out = SegmentCues(level=max(c.level for c in cues))
    for c in cues:
        out.flags |= c.flags
        for k, v in c.counts.items():
            out.counts[k] = out.counts.get(k, 0) + v
        out.evidence += c.evidence
        out.exclaim += c.exclaim
        out.shout += c.shout
        out.repeat = max(out.repeat, c.repeat)
        out.negated += c.negated
    out.vader = (min(c.vader[0] for c in cues), max(c.vader[1] for c in cues), max(c.vader[2] for c in cues))
    return out


def repetition_loop(text: str) -> bool:
    """The same sentence three or more times in one narration (a stuck, looping voice)."""
    from testbed.scoring.tone.scale import sentences
    norm = [re.sub(r"\W+", " ", text[s:e].lower()).strip() for s, e in sentences(text)]
    return any(norm.count(s) >= 3 for s in set(norm) if s)


class LexiconTier:
    """Rules only: no model, no training except a two-parameter curve from raw score to probability."""

    name = "lexicon"

    def __init__(self, calibration: tuple[float, float] = (2.2, -4.4)):
        self.a, self.b = calibration

    def p_frustrated(self, raw: float) -> float:
        return 1.0 / (1.0 + math.exp(-(self.a * raw + self.b)))

    def score(self, text: str, segs: list[str] | None = None,
              cues: list[SegmentCues] | None = None) -> dict[str, Any]:
        segs = segs if segs is not None else _segments(text)
        cues = cues if cues is not None else [analyse(s) for s in segs]
        if not cues:
            return result(0, self.p_frustrated(0.0), [], [])
        top = max(cues, key=lambda c: (c.level, c.raw))
        level, raw = top.level, top.raw
        if repetition_loop(text):
            level, raw = max(level, 2), raw + 0.8
        flags = set().union(*(c.flags for c in cues))
        evidence = _evidence(text, segs, cues)
        return result(level, self.p_frustrated(raw), sorted(flags), evidence)


def _segments(text: str) -> list[str]:
    from testbed.scoring.tone.scale import segments
    return segments(text)


def _evidence(text: str, segs: list[str], cues: list[SegmentCues], limit: int = 8) -> list[str]:
    seen, out = set(), []
    ranked = sorted(cues, key=lambda c: -c.level)
    for c in ranked:
        for _, phrase in sorted(c.evidence):
            if phrase and phrase not in seen and phrase in text:
                seen.add(phrase)
                out.append(phrase)
    out = [p for p in out if not any(p != q and p in q for q in out)]  # keep the longer of nested phrases
    return out[:limit]


def fit_calibration(raws: list[float], frustrated: list[int]) -> tuple[float, float]:
    """Logistic curve raw -> P(level >= 2), fitted on the training split only."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    lr = LogisticRegression(C=10.0).fit(np.asarray(raws).reshape(-1, 1), np.asarray(frustrated))
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


__all__ = ["CUES", "FLAGS", "LexiconTier", "SegmentCues", "analyse", "fit_calibration", "FEATURE_NAMES"]
