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
        "en": "   write {dname} in the exercise cell; meanwhile, using autograd's gradient so you can carry on",
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
        "it": "   la risposta deve essere un tensore torch, ho ricevuto {kind}{hint}",
        "en": "   the answer must be a torch tensor, I got {kind}{hint}",
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
        "it": "   forma sbagliata: {dname} deve avere la forma di {name}, {want}; la tua è {got}",
        "en": "   wrong shape: {dname} must have the shape of {name}, {want}; yours is {got}",
    },
    "loose_shape": {
        "it": "   nota: valori giusti, ma {dname} ha forma {got} invece di {want}; lo accetto e lo riporto a {want}. Con keepdim=True ({fix}) ottieni la forma esatta",
        "en": "   note: right values, but {dname} has shape {got} instead of {want}; accepted, and reshaped to {want}. With keepdim=True ({fix}) you get the exact shape",
    },
    "loose_shape_extra": {
        "it": "   nota: valori giusti, ma {dname} ha forma {got} invece di {want}; lo accetto e lo riporto a {want}. Senza keepdim ({fix}) ottieni la forma esatta",
        "en": "   note: right values, but {dname} has shape {got} instead of {want}; accepted, and reshaped to {want}. Without keepdim ({fix}) you get the exact shape",
    },
    "hint_keepdim": {
        "it": "   suggerimento: stesse taglie, ma manca una dimensione di taglia 1: hai sommato senza keepdim=True? ({fix})",
        "en": "   hint: same sizes, but a size-1 dimension is missing: did you sum without keepdim=True? ({fix})",
    },
    "hint_sum_replicated": {
        "it": "   suggerimento: {name} è stato replicato (broadcasting) lungo dim {dims}: somma i gradienti lì, {fix}",
        "en": "   hint: {name} was replicated (broadcasting) along dim {dims}: add up the gradients there, {fix}",
    },
    "hint_replicate_back": {
        "it": "   suggerimento: {dname} è più piccolo di {tname}, gli manca dim {dims}. Una somma lungo dim {dims} nel forward pass, all'indietro diventa una replica: ogni elemento di {tname} riceve il gradiente della sua somma. Copia il gradiente lungo dim {dims}, per esempio con il broadcasting: {fix}",
        "en": "   hint: {dname} is smaller than {tname}: dim {dims} is missing. A sum along dim {dims} in the forward pass is a replication going backward: every entry of {tname} receives the gradient of its sum. Copy the gradient along dim {dims}, for example by broadcasting: {fix}",
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
        "it": "   valori sbagliati: l'errore più grande è in {where} (hai scritto {mine:.4g}, autograd dice {ref:.4g})",
        "en": "   wrong values: the largest error is at {where} (yours {mine:.4g}, autograd's {ref:.4g})",
    },
    "values_scalar": {
        "it": "   valore sbagliato: hai scritto {mine:.4g}, autograd dice {ref:.4g}",
        "en": "   wrong value: yours {mine:.4g}, autograd's {ref:.4g}",
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
    "hint_zeros": {
        "it": "   suggerimento: la tua risposta è tutta zeri: hai creato il tensore (zeros_like) senza riempirlo?",
        "en": "   hint: your answer is all zeros: did you create the tensor (zeros_like) and forget to fill it?",
    },
    "hint_all_wrong": {
        "it": "   sono sbagliate tutte le {total} posizioni",
        "en": "   all {total} entries are wrong",
    },
    "shape_todo": {"it": "{name}: ancora da fare", "en": "{name}: still to do"},
    "shape_right": {"it": "{name}: {shape} giusto!", "en": "{name}: {shape} right!"},
    "shape_wrong": {
        "it": "{name}: {guess} non è la forma giusta. Ricorda: {name} ha sempre la forma di {of}.",
        "en": "{name}: {guess} is not the right shape. Remember: {name} always has the shape of {of}.",
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


def tr(it, en):
    """The text for the current language: `plt.xlabel(tr("colonna", "column"))` keeps the code the same in both."""
    return {"it": it, "en": en}[_current["lang"]]
