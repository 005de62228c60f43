"""The course's two languages: one table of messages, one current language.

A lesson notebook calls `set_language("it")` or `set_language("en")` in its
setup cell; every message `cmp` prints is then looked up here.
"""
import string

LANGUAGES = ("it", "en")
_current = {"lang": "en"}

MESSAGES = {
    "done": {"it": "✅ fatto", "en": "✅ done"},
    "wrong": {"it": "❌ sbagliato", "en": "❌ wrong"},
    "todo": {"it": "⏳ da fare", "en": "⏳ to do"},
    "todo_line": {
        "it": "   scrivi {dname} nella cella dell'esercizio; intanto, per andare avanti, uso il gradiente di autograd",
        "en": "   write {dname} in the exercise cell; meanwhile, using autograd's gradient so you can carry on",
    },
    "todo_line_unkept": {
        "it": "   scrivi {dname} nella cella dell'esercizio",
        "en": "   write {dname} in the exercise cell",
    },
    "your_answer": {"it": "la tua risposta", "en": "your answer"},
    "name": {"it": "{name}", "en": "{name}"},
    "still_autograd": {
        "it": "   è ancora il gradiente di autograd che cmp ti ha dato per andare avanti: scrivi (o correggi) {dname} nella cella dell'esercizio",
        "en": "   this is still autograd's gradient that cmp gave you to carry on: write (or fix) {dname} in the exercise cell",
    },
    "carry_on_autograd": {
        "it": "   per andare avanti uso il gradiente di autograd",
        "en": "   using autograd's gradient so you can carry on",
    },
    "broken": {
        "it": "   non riesco a confrontare la risposta con autograd: {error}",
        "en": "   I cannot compare the answer with autograd: {error}",
    },
    "copied": {
        "it": "   nota: questo è proprio {name}.grad, cioè la risposta di autograd, non la tua",
        "en": "   note: this is {name}.grad itself, autograd's answer, not yours",
    },
    "not_tensor": {
        "it": "   la risposta deve essere un tensore PyTorch, e questo è un {kind}{hint}",
        "en": "   the answer must be a PyTorch tensor, and this is a {kind}{hint}",
    },
    "hint_numpy": {
        "it": " (convertilo con torch.from_numpy(...).to({dtype}), o meglio calcolalo con operazioni sui tensori)",
        "en": " (convert it with torch.from_numpy(...).to({dtype}), or better, compute it with tensor operations)",
    },
    "hint_list": {
        "it": " (convertila con torch.tensor(...), o meglio calcolala con operazioni sui tensori)",
        "en": " (convert it with torch.tensor(...), or better, compute it with tensor operations)",
    },
    "scalar_shape": {
        "it": "[], un tensore a 0 dimensioni come torch.tensor(1.0)",
        "en": "[], a 0-dimensional tensor like torch.tensor(1.0)",
    },
    "hint_number": {
        "it": ": un gradiente ha la forma di {name}, cioè {shape}",
        "en": ": a gradient has the shape of {name}, that is {shape}",
    },
    "no_reference": {
        "it": "   {name} non è un tensore: cmp(name, dt, t) vuole come terzo argomento il tensore del forward pass",
        "en": "   {name} is not a tensor: cmp(name, dt, t) wants the forward-pass tensor as its third argument",
    },
    "no_grad": {
        "it": "   {name}.grad è None: chiama {name}.retain_grad() prima di loss.backward() (ed esegui loss.backward())",
        "en": "   {name}.grad is None: call {name}.retain_grad() before loss.backward() (and do run loss.backward())",
    },
    "shape": {
        "it": "   forma sbagliata: {dname} deve avere la forma di {name}, {want}; la tua è {got}",
        "en": "   wrong shape: {dname} must have the shape of {name}, {want}; yours is {got}",
    },
    "loose_shape": {
        "it": "   nota: valori giusti, ma {dname} ha forma {got} invece di {want}; lo accetto e lo riporto a {want}. Con keepdim=True ({fix}) ottieni la forma esatta",
        "en": "   note: right values, but {dname} has shape {got} instead of {want}; accepted, and reshaped to {want}. With keepdim=True ({fix}) you get the exact shape",
    },
    "loose_shape_scalar": {
        "it": "   nota: valore giusto, ma {dname} ha forma {got} invece di [] (uno scalare); lo accetto. Un tensore a 0 dimensioni, come torch.tensor(1.0), ha esattamente la forma giusta",
        "en": "   note: right value, but {dname} has shape {got} instead of [] (a scalar); accepted. A 0-dimensional tensor, like torch.tensor(1.0), has exactly the right shape",
    },
    "loose_shape_extra": {
        "it": "   nota: valori giusti, ma {dname} ha forma {got} invece di {want}; lo accetto e lo riporto a {want}. Senza keepdim ({fix}) ottieni la forma esatta",
        "en": "   note: right values, but {dname} has shape {got} instead of {want}; accepted, and reshaped to {want}. Without keepdim ({fix}) you get the exact shape",
    },
    "hint_keepdim": {
        "it": "   suggerimento: stesse lunghezze, ma manca una dimensione di lunghezza 1: hai sommato senza keepdim=True? ({fix})",
        "en": "   hint: same sizes, but a size-1 dimension is missing: did you sum without keepdim=True? ({fix})",
    },
    "hint_sum_replicated": {
        "it": "   suggerimento: {name} è stato replicato (broadcasting) lungo {dims:dim}: somma lì i gradienti, {fix}",
        "en": "   hint: {name} was replicated (broadcasting) along {dims:dim}: add up the gradients there, {fix}",
    },
    "hint_replicate_back": {
        "it": "   suggerimento: {dname} è più piccolo di {tname} lungo {dims:dim} (assente o di lunghezza 1). Una somma lungo {dims:dim} nel forward pass diventa, all'indietro, una replica: ogni elemento di {tname} riceve il gradiente della sua somma. Copia il gradiente lungo {dims:dim}, per esempio con il broadcasting: {fix}",
        "en": "   hint: {dname} is smaller than {tname} along {dims:dim} (missing or of length 1). A sum along {dims:dim} in the forward pass is a replication going backward: every entry of {tname} receives the gradient of its sum. Copy the gradient along {dims:dim}, for example by broadcasting: {fix}",
    },
    "hint_wrong_dim": {
        "it": "   suggerimento: hai sommato lungo la dimensione sbagliata; per la forma {want} somma lungo {dims:dim}: {fix}",
        "en": "   hint: you summed along the wrong dimension; for the shape {want} sum along {dims:dim}: {fix}",
    },
    "hint_transposed": {
        "it": "   suggerimento: è la forma trasposta; manca un .T, o ce n'è uno di troppo?",
        "en": "   hint: that is the transposed shape; a .T missing (or one too many)?",
    },
    "dtype": {
        "it": "   tipo sbagliato: mi aspettavo {want}, hai {got} (crea i tensori con *_like(...) o converti con .to({want}))",
        "en": "   wrong dtype: expected {want}, got {got} (build tensors with *_like(...) or convert with .to({want}))",
    },
    "device": {
        "it": "   dispositivo sbagliato: mi aspettavo {want}, hai {got}",
        "en": "   wrong device: expected {want}, got {got}",
    },
    "nonfinite": {
        "it": "   la risposta contiene {count} valori NaN o infiniti (un log di 0? una divisione per 0?), il primo in {where}",
        "en": "   the answer holds {count} NaN or infinite values (a log of 0? a division by 0?), the first at {where}",
    },
    "values": {
        "it": "   valori sbagliati: l'errore più grande è in {where} (hai scritto {mine:.4g}, autograd dice {ref:.4g})",
        "en": "   wrong values: the largest error is at {where} (yours {mine:.4g}, autograd's {ref:.4g})",
    },
    "values_scalar": {
        "it": "   valore sbagliato: hai scritto {mine:.4g}, autograd dice {ref:.4g}",
        "en": "   wrong value: yours {mine:.4g}, autograd's {ref:.4g}",
    },
    "hint_constant_error": {
        "it": "   suggerimento: l'errore è uguale lungo {dim:dim}: manca forse il contributo di un percorso che passa per una somma lungo {dim:dim}?",
        "en": "   hint: the error is the same along {dim:dim}: is the contribution of a path through a sum along {dim:dim} missing?",
    },
    "hint_sign": {
        "it": "   suggerimento: è l'opposto della risposta giusta: controlla il segno",
        "en": "   hint: it is the opposite of the right answer: check the sign",
    },
    "hint_scale": {
        "it": "   suggerimento: è la risposta giusta moltiplicata per {factor:.4g}: manca un fattore, o ce n'è uno di troppo?{overwritten}",
        "en": "   hint: it is the right answer times {factor:.4g}: a factor missing or one too many?{overwritten}",
    },
    "overwritten": {
        "it": " Oppure hai sovrascritto un contributo con = invece di sommarlo con +=?",
        "en": " Or a contribution overwritten with = instead of added with +=?",
    },
    "hint_rows": {
        "it": "   sono sbagliate {bad} posizioni su {total}",
        "en": "   {bad} of {total} entries are wrong",
    },
    "hint_transposed_values": {
        "it": "   suggerimento: sono i valori giusti, ma trasposti: righe e colonne scambiate (manca un .T, o ce n'è uno di troppo?)",
        "en": "   hint: these are the right values, transposed: rows and columns swapped (a .T missing or one too many?)",
    },
    "hint_one_wrong": {
        "it": "   è sbagliata 1 posizione su {total}",
        "en": "   1 of {total} entries is wrong",
    },
    "tiny_reference": {
        "it": "   nota: qui il gradiente di autograd è minuscolo (al massimo {scale:.1e}), sotto la tolleranza assoluta di allclose (1e-08): passa quasi qualunque risposta piccola, anche un tensore di soli zeri",
        "en": "   note: autograd's gradient is tiny here (at most {scale:.1e}), below allclose's absolute tolerance (1e-08): almost any small answer passes, even all zeros",
    },
    "hint_zeros": {
        "it": "   suggerimento: la tua risposta è tutta zeri: hai creato il tensore (zeros_like) senza riempirlo?",
        "en": "   hint: your answer is all zeros: did you create the tensor (zeros_like) and forget to fill it?",
    },
    "hint_all_wrong": {
        "it": "   sono sbagliate tutte e {total} le posizioni",
        "en": "   all {total} entries are wrong",
    },
    "shape_todo": {"it": "{name}: ancora da fare", "en": "{name}: still to do"},
    "shape_right": {"it": "{name}: {shape}, forma giusta!", "en": "{name}: {shape}, the right shape!"},
    "shape_dims": {
        "it": "   il numero di elementi torna, ma {guess} ha {k} e {of} ha {m}: anche una dimensione di lunghezza 1 conta.",
        "en": "   the number of elements is right, but {guess} has {k} and {of} has {m}: a dimension of length 1 still counts.",
    },
    "shape_not_tuple": {
        "it": "   una forma è una tupla, con una lunghezza per dimensione: (32, 27) per una matrice, (32,) per un vettore, () per uno scalare; {guess} non lo è.",
        "en": "   a shape is a tuple, one length per dimension: (32, 27) for a matrix, (32,) for a vector, () for a scalar; {guess} is not one.",
    },
    "shape_wrong": {
        "it": "{name}: {guess} non è la forma giusta. Ricorda: {name} ha sempre la forma di {of}.",
        "en": "{name}: {guess} is not the right shape. Remember: {name} always has the shape of {of}.",
    },
    # handgrad.grade: the feedback page a learner gets back
    "grade_page_title": {"it": "Correzione: {lesson}", "en": "Feedback: {lesson}"},
    "grade_student": {"it": "Consegna di {student} ({file})", "en": "Submitted by {student} ({file})"},
    "grade_total": {"it": "Punteggio: {earned} su {max}", "en": "Score: {earned} out of {max}"},
    "grade_how": {
        "it": "Ogni esercizio è corretto da solo: prima di eseguirlo, il correttore rimette al loro posto le risposte giuste degli esercizi precedenti, così un errore in un esercizio non pesa sui successivi. Le tue risposte sono confrontate con i gradienti di autograd fuori dal tuo notebook: conta quello che calcoli, non quello che stampi.",
        "en": "Each exercise is graded on its own: before running it, the grader puts back the right answers of the earlier exercises, so a mistake in one exercise does not count against the next ones. Your answers are compared with autograd's gradients outside your notebook: what counts is what you compute, not what you print.",
    },
    "grade_col_exercise": {"it": "Esercizio", "en": "Exercise"},
    "grade_col_points": {"it": "Punti", "en": "Points"},
    "grade_col_result": {"it": "Esito", "en": "Result"},
    "grade_flagged": {"it": "🚩 da rivedere", "en": "🚩 flagged"},
    "grade_exception": {
        "it": "la cella dell'esercizio si è fermata con un errore: {error}",
        "en": "the exercise cell stopped with an error: {error}",
    },
    "grade_timeout": {
        "it": "la cella è andata avanti per più di {seconds} s ed è stata interrotta (un ciclo che non finisce?)",
        "en": "the cell ran for more than {seconds} s and was stopped (a loop that never ends?)",
    },
    "grade_memory": {
        "it": "la cella ha usato più memoria di quella concessa ({limit}); per gli esercizi successivi Python è ripartito da capo",
        "en": "the cell used more memory than allowed ({limit}); Python was started afresh for the exercises after it",
    },
    "grade_kernel_died": {
        "it": "Python si è interrotto mentre eseguiva questa cella; gli esercizi successivi sono ripartiti da capo",
        "en": "Python stopped while running this cell; the exercises after it were run afresh",
    },
    "grade_time_limit": {
        "it": "non eseguito: il notebook ha superato il tempo concesso ({seconds} s in tutto)",
        "en": "not run: the notebook went over its time limit ({seconds} s in all)",
    },
    "grade_not_run": {"it": "non eseguito", "en": "not run"},
    "grade_missing": {
        "it": "questa cella di esercizio manca nel tuo notebook: conta come da fare",
        "en": "this exercise cell is missing from your notebook: it counts as still to do",
    },
    "grade_extra": {
        "it": "anche le celle che hai aggiunto subito dopo l'esercizio sono state eseguite, come parte di esso",
        "en": "the cells you added right after the exercise were run too, as part of it",
    },
    "grade_flag_autograd": {
        "it": "non valutato: la risposta legge il risultato di autograd ({what}, riga {line}); l'insegnante lo vedrà",
        "en": "not scored: the answer reads autograd's result ({what}, line {line}); your teacher will see it",
    },
    "grade_flag_via": {
        "it": "non valutato: la risposta usa {what} (riga {line}), calcolato in {via} dal risultato di autograd; l'insegnante lo vedrà",
        "en": "not scored: the answer uses {what} (line {line}), computed in {via} from autograd's result; your teacher will see it",
    },
    "grade_flag_tamper": {
        "it": "questa cella cambia il modo in cui le risposte vengono controllate ({what}, riga {line}): non fa guadagnare nulla, e l'insegnante lo vedrà",
        "en": "this cell changes how answers are checked ({what}, line {line}): it earns nothing, and your teacher will see it",
    },
    "grade_flag_review": {
        "it": "questa cella fa qualcosa che a un gradiente non serve ({what}, riga {line}); l'insegnante darà un'occhiata",
        "en": "this cell does something a gradient does not need ({what}, line {line}); your teacher will take a look",
    },
    "grade_invalid": {
        "it": "il file non è un notebook leggibile ({error})",
        "en": "the file is not a readable notebook ({error})",
    },
    "grade_not_handgrad": {
        "it": "il notebook non ha i metadati del corso (metadata.handgrad): non viene dalla cartella notebooks/ del corso",
        "en": "the notebook lacks the course's metadata (metadata.handgrad): it does not come from the course's notebooks/ folder",
    },
    "grade_unknown_lesson": {
        "it": "il notebook indica una lezione che il corso non ha: {source} ({lang})",
        "en": "the notebook names a lesson the course does not have: {source} ({lang})",
    },
    "grade_reordered": {
        "it": "le celle degli esercizi non erano nell'ordine del corso: ogni esercizio è stato eseguito al suo posto",
        "en": "the exercise cells were not in the course's order: each exercise was run in its own place",
    },
    "grade_missing_cells": {
        "it": "mancano alcune celle del corso: {cells}",
        "en": "some of the course's cells are missing: {cells}",
    },
    "grade_duplicate": {
        "it": "alcune celle di esercizio compaiono più di una volta ({cells}): conta la prima",
        "en": "some exercise cells appear more than once ({cells}): the first one counts",
    },
    "grade_twice": {
        "it": "per questa lezione sono arrivati più notebook: {files}",
        "en": "more than one notebook came in for this lesson: {files}",
    },
    "grade_grader_error": {
        "it": "il correttore non è riuscito a correggere questo notebook ({error}); l'insegnante lo vedrà",
        "en": "the grader could not grade this notebook ({error}); your teacher will see it",
    },
    "strict": {
        "it": "{name}: il gradiente non coincide con quello di autograd",
        "en": "{name}: the gradient does not match autograd's",
    },
}


def set_language(lang):
    """Choose the language of every message `cmp` prints ("it" or "en")."""
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {lang!r}")
    _current["lang"] = lang


def get_language():
    return _current["lang"]


def _dimensions(dims):
    """Dimensions named as a teacher would say them: "dim 1", "dims 0 and 1"; "la dimensione 1", "le dimensioni 0 e 1"."""
    parts = [p.strip() for p in str(dims).split(",")]
    it = _current["lang"] == "it"
    if len(parts) == 1:
        return ("la dimensione " if it else "dim ") + parts[0]
    listed = ", ".join(parts[:-1]) + (" e " if it else " and ") + parts[-1]
    return ("le dimensioni " if it else "dims ") + listed


class _Formatter(string.Formatter):
    """Fills in a message; in Italian a number is written with a decimal comma (0,5), as Italian prose does."""

    def format_field(self, value, spec):
        if spec == "dim":  # "{dims:dim}": one dimension or several, "la dimensione 1" / "le dimensioni 0 e 1"
            return _dimensions(value)
        text = super().format_field(value, spec)
        return text.replace(".", ",") if _current["lang"] == "it" and isinstance(value, float) else text


def say(key, **values):
    """The message `key` in the current language, with `values` filled in."""
    return _Formatter().format(MESSAGES[key][_current["lang"]], **values)


def tr(it, en):
    """The text for the current language: `plt.xlabel(tr("colonna", "column"))` keeps the code the same in both."""
    return {"it": it, "en": en}[_current["lang"]]


def num(x, spec="g"):
    """A number as the current language writes it: `num(0.5)` is "0,5" in Italian, "0.5" in English.

    For the numbers a lesson prints outside `cmp` (timings, ratios, losses), so that an Italian
    notebook reads like Italian prose; `cmp`'s own row keeps Python's decimal point, as in the lecture.
    """
    value = x.item() if hasattr(x, "item") else x
    text = format(value, spec)  # a "," in `spec` groups thousands: 2,188,800 in English, 2 188 800 in Italian
    return text.translate(str.maketrans({".": ",", ",": " "})) if _current["lang"] == "it" else text


def yes_no(flag):
    """True/False as a sentence would say it: "sì"/"no", "yes"/"no"."""
    return tr("sì", "yes") if flag else "no"
