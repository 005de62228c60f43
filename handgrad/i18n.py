"""The course's two languages: one table of messages, one current language.

A lesson notebook calls `set_language("it")` or `set_language("en")` in its
setup cell; every message `cmp` prints is then looked up here.
"""
LANGUAGES = ("it", "en")
_current = {"lang": "en"}

MESSAGES = {
    "done": {"it": "✅ fatto", "en": "✅ done"},
    "wrong": {"it": "❌ sbagliato", "en": "❌ wrong"},
    "todo": {"it": "⏳ da fare", "en": "⏳ to do"},
    "todo_line": {
        "it": "   scrivi {dname} nella cella dell'esercizio; intanto, per andare avanti, uso il gradiente di autograd",
        "en": "   write {dname} in the exercise cell; meanwhile, to carry on, I use autograd's gradient",
    },
    "your_answer": {"it": "la tua risposta", "en": "your answer"},
    "still_autograd": {
        "it": "   è ancora il gradiente di autograd che cmp ti ha dato per andare avanti: scrivi (o correggi) {dname} nella cella dell'esercizio",
        "en": "   this is still autograd's gradient that cmp gave you to carry on: write (or fix) {dname} in the exercise cell",
    },
    "carry_on_autograd": {
        "it": "   per andare avanti uso il gradiente di autograd",
        "en": "   to carry on, I use autograd's gradient",
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
        "it": "   la risposta deve essere un tensore torch, ho ricevuto {kind}{hint}",
        "en": "   the answer must be a torch tensor, I got {kind}{hint}",
    },
    "hint_numpy": {
        "it": " (convertilo con torch.from_numpy(...))",
        "en": " (convert it with torch.from_numpy(...))",
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
        "it": " (un gradiente ha la forma di {name}: {shape})",
        "en": " (a gradient has the shape of {name}: {shape})",
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
        "it": "   forma sbagliata: mi aspettavo {want} (la forma di {name}), hai {got}",
        "en": "   wrong shape: expected {want} (the shape of {name}), got {got}",
    },
    "hint_keepdim": {
        "it": "   suggerimento: stesse taglie, ma manca una dimensione di taglia 1: hai sommato senza keepdim=True? ({fix})",
        "en": "   hint: same sizes, but a size-1 dimension is missing: did you sum without keepdim=True? ({fix})",
    },
    "hint_sum_replicated": {
        "it": "   suggerimento: {name} è stato replicato (broadcasting) lungo dim {dims}: somma i gradienti lì, {fix}",
        "en": "   hint: {name} was replicated (broadcasting) along dim {dims}: add up the gradients there, {fix}",
    },
    "hint_wrong_dim": {
        "it": "   suggerimento: hai sommato lungo la dimensione sbagliata; per la forma {want} somma lungo dim {dims}: {fix}",
        "en": "   hint: you summed along the wrong dimension; for the shape {want} sum along dim {dims}: {fix}",
    },
    "hint_transposed": {
        "it": "   suggerimento: è la forma trasposta; manca (o c'è di troppo) un .T?",
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
        "it": "   valori sbagliati: maxdiff {maxdiff:.3g}, l'errore più grande è in {where} (il tuo {mine:.4g}, autograd {ref:.4g})",
        "en": "   wrong values: maxdiff {maxdiff:.3g}, the largest error is at {where} (yours {mine:.4g}, autograd {ref:.4g})",
    },
    "values_scalar": {
        "it": "   valore sbagliato: hai scritto {mine:.4g}, autograd dice {ref:.4g}",
        "en": "   wrong value: yours {mine:.4g}, autograd {ref:.4g}",
    },
    "hint_constant_error": {
        "it": "   suggerimento: l'errore è lo stesso lungo dim {dim}: manca il contributo di un percorso che passa da una somma lungo dim {dim}?",
        "en": "   hint: the error is the same along dim {dim}: is the contribution of a path through a sum along dim {dim} missing?",
    },
    "hint_sign": {
        "it": "   suggerimento: è l'opposto della risposta giusta: controlla il segno",
        "en": "   hint: it is the opposite of the right answer: check the sign",
    },
    "hint_scale": {
        "it": "   suggerimento: è la risposta giusta moltiplicata per {factor:.4g}: manca o c'è di troppo un fattore?{overwritten}",
        "en": "   hint: it is the right answer times {factor:.4g}: a factor missing or one too many?{overwritten}",
    },
    "overwritten": {
        "it": " O un contributo sovrascritto con = invece che sommato con +=?",
        "en": " Or a contribution overwritten with = instead of added with +=?",
    },
    "hint_rows": {
        "it": "   sono sbagliate {bad} posizioni su {total}",
        "en": "   {bad} of {total} entries are wrong",
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


def say(key, **values):
    """The message `key` in the current language, with `values` filled in."""
    return MESSAGES[key][_current["lang"]].format(**values)
