// SPDX-License-Identifier: BSD-3-Clause
#include "transaction_p.h"

#include "syncengine_p.h"

#include <synq/identifier.h>
#include <synq/lifecycle.h>
#include <synq/overlay.h>

namespace Synq {

/*!
    \class Synq::Transaction
    \inmodule Synq
    \brief A handle on one unit of local change on its way to the backend.

    Every mutation (SyncCollection::insert(), update(), remove() and the bulk variants) creates
    a Transaction and returns it. The transaction is written to the local outbox before the call
    returns, together with the change itself, and lives on through restarts: a new process sees
    the same transactions in the same states.

    The engine owns every Transaction; the pointer stays valid as long as the SyncEngine that
    made it. Watch it through its properties, stateChanged(), and completed() or failed(), one
    of which is emitted exactly once.

    \sa SyncEngine::transaction()
*/

/*!
    \qmltype Transaction
    \inqmlmodule Synq
    \brief A unit of local change: its state, mutations and attempts.

    Returned by SyncCollection's insert(), update(), remove() and the bulk methods.
    Not creatable from QML.
*/

Transaction::Transaction(const TransactionRecord &record, QObject *parent)
    : QObject(parent), d(new TransactionPrivate)
{
    d->q = this;
    d->record = record;
}

Transaction::~Transaction() = default;

Transaction *TransactionPrivate::createOpen(const TransactionRecord &record, SyncEngine *engine)
{
    Transaction *t = create(record, engine);
    t->d->engine = engine;
    t->d->open = true;
    return t;
}

QString Transaction::id() const { return d->record.id; }
Transaction::State Transaction::state() const { return State(d->record.state); }
QString Transaction::stateName() const { return nameOf(d->record.state); }
Transaction::Strategy Transaction::strategy() const { return Strategy(d->record.strategy); }

QString Transaction::key() const
{
    return d->record.mutations.isEmpty() ? QString() : d->record.mutations.constFirst().key;
}

QStringList Transaction::collections() const { return d->record.collections(); }

QVariantList Transaction::mutations() const
{
    QVariantList out;
    out.reserve(d->record.mutations.size());
    for (const MutationRecord &m : d->record.mutations)
        out.append(m.toVariantMap());
    return out;
}

int Transaction::mutationCount() const { return int(d->record.mutations.size()); }

QVariantList Transaction::attempts() const
{
    QVariantList out;
    for (const AttemptRecord &a : d->record.attempts)
        out.append(a.toVariantMap());
    return out;
}

int Transaction::currentAttempt() const { return d->record.currentAttempt; }
QString Transaction::queuedBehind() const { return d->record.queuedBehind; }
SyncError Transaction::error() const { return d->record.error; }
QDateTime Transaction::createdAt() const { return d->record.createdAt; }
QDateTime Transaction::updatedAt() const { return d->record.updatedAt; }
/*!
    \property Synq::Transaction::conflictOutcome
    \brief What the last conflict on push of this transaction came to under its collection's
    conflictPolicy (docs/conflicts.md): \c AdoptServer (the server's state stands; the
    transaction completes with its change dropped), \c RebaseAndRetry (its change was sent
    again on the server's version), \c ManualRequired (it waits for the app, see
    ConflictModel) or \c Skipped (nothing to resolve against; a dead letter). \c NoConflict
    while it has met none. The attempt that met the conflict carries the Conflict error.
*/
Transaction::ConflictOutcome Transaction::conflictOutcome() const
{
    return ConflictOutcome(d->record.conflictOutcome);
}
const TransactionRecord &Transaction::record() const { return d->record; }
bool Transaction::isOpen() const { return d->open; }
bool Transaction::isFinished() const { return state() == Completed || state() == Failed; }

/*!
    \property Synq::Transaction::nextRetryAt
    \brief When the next attempt is due, for a Pending transaction whose last attempt failed;
    invalid otherwise.
*/
QDateTime Transaction::nextRetryAt() const
{
    return Lifecycle::dueAt(d->record);
}

/*!
    \property Synq::Transaction::open
    \brief Whether this is an explicit transaction (SyncEngine::begin()) that still takes
    changes: true until commit() or rollback().
*/

// Reports a refused staging step on the transaction and the engine; the transaction stays open.
bool Transaction::stage(bool ok, const SyncError &error)
{
    if (!ok && d->engine)
        SyncEnginePrivate::get(d->engine)->report(error);
    return ok;
}

/*
    Stages one prepared op: an insert needs the item absent, an update or a remove present — as
    the transaction has left it so far, or as the collection shows it. Nothing shows or is
    stored before commit().
*/
bool TransactionPrivate::stage(const LocalOp &op, SyncError *error)
{
    const LocalCommit &local = SyncEnginePrivate::get(engine)->local;
    const QString id = itemId(op.collection, op.key);
    const bool staged = draft && draft->items.contains(id);
    const std::optional<QJsonObject> current =
            staged ? draft->items.value(id) : local.visibleState(op.collection, op.key);
    if (op.type == MutationType::Insert && current) {
        *error = SyncError(SyncError::Validation,
                           Transaction::tr("An item with key \"%1\" already exists in \"%2\".")
                                   .arg(op.key, op.collection));
        return false;
    }
    if (op.type != MutationType::Insert && !current) {
        *error = SyncError(SyncError::Validation,
                           Transaction::tr("There is no item with key \"%1\" in \"%2\".")
                                   .arg(op.key, op.collection));
        return false;
    }
    if (!draft)
        draft = std::make_unique<Draft>();
    MutationRecord step;
    step.type = op.type;
    step.modified = op.values;
    step.changes = op.values;
    draft->items.insert(id, Overlay::apply(current, step));
    draft->ops.append(op);
    return true;
}

// Prepares *op with `prepare` (calling a LocalCommit member) and stages it.
template<typename Prepare>
bool TransactionPrivate::prepareAndStage(LocalOp *op, Prepare prepare)
{
    SyncError error(SyncError::Validation, Transaction::tr("The transaction is not open."));
    if (!open || !engine)
        return q->stage(false, error);
    const LocalCommit &local = SyncEnginePrivate::get(engine)->local;
    if (!prepare(local, &error) || !stage(*op, &error))
        return q->stage(false, error);
    return true;
}

/*!
    Stages the insert of \a item into \a collection and returns its key (the item's keyField
    value, or a new key written into it); an empty string when refused (not open, an invalid
    item, or the key exists). Nothing shows or is stored before commit().
*/
QString Transaction::insert(const QString &collection, const QVariant &item)
{
    LocalOp op;
    const bool ok = d->prepareAndStage(&op, [&](const LocalCommit &l, SyncError *e) {
        return l.prepareInsert(collection, item, &op, e);
    });
    return ok ? op.key : QString();
}

/*!
    Stages setting the fields of \a changes on the item with \a key in \a collection. Returns
    false when refused (not open, invalid changes, or no such item).
*/
bool Transaction::update(const QString &collection, const QVariant &key, const QVariant &changes)
{
    LocalOp op;
    return d->prepareAndStage(&op, [&](const LocalCommit &l, SyncError *e) {
        return l.prepareUpdate(collection, key, changes, &op, e);
    });
}

/*!
    Stages the removal of the item with \a key from \a collection. Returns false when refused
    (not open, or no such item).
*/
bool Transaction::remove(const QString &collection, const QVariant &key)
{
    LocalOp op;
    return d->prepareAndStage(&op, [&](const LocalCommit &l, SyncError *e) {
        return l.prepareRemove(collection, key, &op, e);
    });
}

/*!
    Commits the staged changes as one transaction: written to the outbox in one SQL
    transaction, shown in the models, and sent to the server as one unit that is applied
    all-or-nothing. Ordered if any collection it touches is ordered. Returns true when
    committed; the transaction is then in the outbox like any other (state, attempts, signals).
    Returns false, stores nothing and ends the transaction as Failed with error() when the
    changes cannot be committed (nothing staged, an item changed meanwhile, a full outbox, a
    storage failure).
*/
bool Transaction::commit()
{
    if (!d->open || !d->engine)
        return stage(false, SyncError(SyncError::Validation, tr("The transaction is not open.")));
    SyncEnginePrivate *e = SyncEnginePrivate::get(d->engine);
    const QList<LocalOp> ops = d->draft ? d->draft->ops : QList<LocalOp>();
    StrategyKind strategy = StrategyKind::Parallel;
    for (const LocalOp &op : ops) {
        if (e->config(op.collection).strategy == StrategyKind::Ordered)
            strategy = StrategyKind::Ordered;
    }
    d->open = false;
    d->draft.reset();
    SyncError error;
    if (!e->local.commit(ops, strategy, &error, this)) {
        d->open = true; // close() reports the change
        close(error);
        return false;
    }
    Q_EMIT openChanged();
    return true;
}

/*!
    Drops the staged changes: nothing was shown or stored. The transaction ends as Failed with
    a SyncError::Cancelled error.
*/
void Transaction::rollback()
{
    if (!d->open)
        return;
    d->draft.reset();
    close(SyncError(SyncError::Cancelled, tr("The transaction was rolled back.")));
}

void Transaction::close(const SyncError &error)
{
    TransactionRecord record = d->record;
    record.state = TransactionState::Failed;
    record.error = error;
    record.updatedAt = QDateTime::currentDateTimeUtc();
    d->open = false;
    d->setRecord(record);
    Q_EMIT openChanged();
}

void TransactionPrivate::setRecord(const TransactionRecord &next)
{
    const TransactionRecord old = std::exchange(record, next);
    const auto rewritten = [&] {
        for (qsizetype i = 0; i < next.mutations.size(); ++i) {
            const MutationRecord &a = old.mutations.at(i);
            const MutationRecord &b = next.mutations.at(i);
            if (a.type != b.type || a.baseVersion != b.baseVersion || a.changes != b.changes)
                return true;
        }
        return false;
    };
    if (old.mutations.size() != next.mutations.size() || rewritten())
        Q_EMIT q->mutationsChanged();
    if (old.conflictOutcome != next.conflictOutcome)
        Q_EMIT q->conflictOutcomeChanged();
    if (old.attempts.size() != next.attempts.size()
        || old.currentAttempt != next.currentAttempt)
        Q_EMIT q->attemptsChanged();
    if (old.queuedBehind != next.queuedBehind)
        Q_EMIT q->queuedBehindChanged();
    if (old.error != next.error)
        Q_EMIT q->errorChanged();
    if (old.updatedAt != next.updatedAt)
        Q_EMIT q->updatedAtChanged();
    if (old.state != next.state) {
        Q_EMIT q->stateChanged();
        if (next.state == TransactionState::Completed)
            Q_EMIT q->completed();
        else if (next.state == TransactionState::Failed)
            Q_EMIT q->failed(next.error);
    }
}

} // namespace Synq
