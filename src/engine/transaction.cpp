// SPDX-License-Identifier: BSD-3-Clause
#include <synq/transaction.h>

#include "syncengine_p.h"

#include <synq/lifecycle.h>
#include <synq/overlay.h>

namespace Synq {

struct Transaction::Staged
{
    QList<LocalOp> ops;
    // The state each item reaches inside the transaction so far (nullopt: removed).
    QHash<QString, std::optional<QJsonObject>> items;
};

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
    : QObject(parent), m_record(record)
{
}

Transaction::~Transaction() = default;

QString Transaction::id() const { return m_record.id; }
Transaction::State Transaction::state() const { return State(m_record.state); }
QString Transaction::stateName() const { return nameOf(m_record.state); }
Transaction::Strategy Transaction::strategy() const { return Strategy(m_record.strategy); }

QString Transaction::key() const
{
    return m_record.mutations.isEmpty() ? QString() : m_record.mutations.constFirst().key;
}

QStringList Transaction::collections() const { return m_record.collections(); }

QVariantList Transaction::mutations() const
{
    QVariantList out;
    out.reserve(m_record.mutations.size());
    for (const MutationRecord &m : m_record.mutations)
        out.append(m.toVariantMap());
    return out;
}

int Transaction::mutationCount() const { return int(m_record.mutations.size()); }

QVariantList Transaction::attempts() const
{
    QVariantList out;
    for (const AttemptRecord &a : m_record.attempts)
        out.append(a.toVariantMap());
    return out;
}

int Transaction::currentAttempt() const { return m_record.currentAttempt; }
QString Transaction::queuedBehind() const { return m_record.queuedBehind; }
SyncError Transaction::error() const { return m_record.error; }
QDateTime Transaction::createdAt() const { return m_record.createdAt; }
QDateTime Transaction::updatedAt() const { return m_record.updatedAt; }
const TransactionRecord &Transaction::record() const { return m_record; }

/*!
    \property Synq::Transaction::nextRetryAt
    \brief When the next attempt is due, for a Pending transaction whose last attempt failed;
    invalid otherwise.
*/
QDateTime Transaction::nextRetryAt() const
{
    return Lifecycle::dueAt(m_record);
}

/*!
    \property Synq::Transaction::open
    \brief Whether this is an explicit transaction (SyncEngine::begin()) that still takes
    changes: true until commit() or rollback().
*/

// Reports a refused staging step on the transaction and the engine; the transaction stays open.
bool Transaction::stage(bool ok, const SyncError &error)
{
    if (!ok && m_engine)
        SyncEnginePrivate::get(m_engine)->report(error);
    return ok;
}

/*!
    Stages the insert of \a item into \a collection and returns its key (the item's keyField
    value, or a new key written into it); an empty string when refused (not open, an invalid
    item, or the key exists). Nothing shows or is stored before commit().
*/
QString Transaction::insert(const QString &collection, const QVariant &item)
{
    LocalOp op;
    SyncError error(SyncError::Validation, tr("The transaction is not open."));
    if (!m_open || !m_engine) {
        stage(false, error);
        return QString();
    }
    SyncEnginePrivate *e = SyncEnginePrivate::get(m_engine);
    if (!stage(e->prepareInsert(collection, item, &op, &error), error))
        return QString();
    const QString id = SyncEnginePrivate::itemId(collection, op.key);
    const bool exists = m_staged && m_staged->items.contains(id)
            ? m_staged->items.value(id).has_value()
            : e->visibleState(collection, op.key).has_value();
    if (exists) {
        stage(false, SyncError(SyncError::Validation,
                               tr("An item with key \"%1\" already exists in \"%2\".")
                                       .arg(op.key, collection)));
        return QString();
    }
    if (!m_staged)
        m_staged = std::make_shared<Staged>();
    m_staged->items.insert(id, op.values);
    m_staged->ops.append(op);
    return op.key;
}

bool Transaction::update(const QString &collection, const QVariant &key, const QVariant &changes)
{
    LocalOp op;
    SyncError error(SyncError::Validation, tr("The transaction is not open."));
    if (!m_open || !m_engine)
        return stage(false, error);
    SyncEnginePrivate *e = SyncEnginePrivate::get(m_engine);
    if (!stage(e->prepareUpdate(collection, key, changes, &op, &error), error))
        return false;
    const QString id = SyncEnginePrivate::itemId(collection, op.key);
    std::optional<QJsonObject> current = m_staged && m_staged->items.contains(id)
            ? m_staged->items.value(id)
            : e->visibleState(collection, op.key);
    if (!current) {
        return stage(false, SyncError(SyncError::Validation,
                                      tr("There is no item with key \"%1\" in \"%2\".")
                                              .arg(op.key, collection)));
    }
    if (!m_staged)
        m_staged = std::make_shared<Staged>();
    for (auto it = op.values.constBegin(); it != op.values.constEnd(); ++it)
        current->insert(it.key(), it.value());
    m_staged->items.insert(id, current);
    m_staged->ops.append(op);
    return true;
}

bool Transaction::remove(const QString &collection, const QVariant &key)
{
    LocalOp op;
    SyncError error(SyncError::Validation, tr("The transaction is not open."));
    if (!m_open || !m_engine)
        return stage(false, error);
    SyncEnginePrivate *e = SyncEnginePrivate::get(m_engine);
    if (!stage(e->prepareRemove(collection, key, &op, &error), error))
        return false;
    const QString id = SyncEnginePrivate::itemId(collection, op.key);
    const bool exists = m_staged && m_staged->items.contains(id)
            ? m_staged->items.value(id).has_value()
            : e->visibleState(collection, op.key).has_value();
    if (!exists) {
        return stage(false, SyncError(SyncError::Validation,
                                      tr("There is no item with key \"%1\" in \"%2\".")
                                              .arg(op.key, collection)));
    }
    if (!m_staged)
        m_staged = std::make_shared<Staged>();
    m_staged->items.insert(id, std::nullopt);
    m_staged->ops.append(op);
    return true;
}

/*!
    Commits the staged changes as one transaction: written to the outbox in one SQL
    transaction, shown in the models, and sent to the server as one unit that is applied
    all-or-nothing (T2). Ordered if any collection it touches is ordered. Returns true when
    committed; the transaction is then in the outbox like any other (state, attempts, signals).
    Returns false, stores nothing and ends the transaction as Failed with error() when the
    changes cannot be committed (nothing staged, an item changed meanwhile, a full outbox, a
    storage failure).
*/
bool Transaction::commit()
{
    if (!m_open || !m_engine)
        return stage(false, SyncError(SyncError::Validation, tr("The transaction is not open.")));
    SyncEnginePrivate *e = SyncEnginePrivate::get(m_engine);
    const QList<LocalOp> ops = m_staged ? m_staged->ops : QList<LocalOp>();
    StrategyKind strategy = StrategyKind::Parallel;
    for (const LocalOp &op : ops) {
        if (e->config(op.collection).strategy == StrategyKind::Ordered)
            strategy = StrategyKind::Ordered;
    }
    m_open = false;
    m_staged.reset();
    SyncError error;
    if (!e->commitLocal(ops, strategy, &error, this)) {
        m_open = true; // close() reports the change
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
    if (!m_open)
        return;
    m_staged.reset();
    close(SyncError(SyncError::Cancelled, tr("The transaction was rolled back.")));
}

void Transaction::close(const SyncError &error)
{
    TransactionRecord record = m_record;
    record.state = TransactionState::Failed;
    record.error = error;
    record.updatedAt = QDateTime::currentDateTimeUtc();
    m_open = false;
    setRecord(record);
    Q_EMIT openChanged();
}

void Transaction::setRecord(const TransactionRecord &record)
{
    const TransactionRecord old = std::exchange(m_record, record);
    if (old.mutations.size() != record.mutations.size())
        Q_EMIT mutationsChanged();
    if (old.attempts.size() != record.attempts.size()
        || old.currentAttempt != record.currentAttempt)
        Q_EMIT attemptsChanged();
    if (old.queuedBehind != record.queuedBehind)
        Q_EMIT queuedBehindChanged();
    if (old.error != record.error)
        Q_EMIT errorChanged();
    if (old.updatedAt != record.updatedAt)
        Q_EMIT updatedAtChanged();
    if (old.state != record.state) {
        Q_EMIT stateChanged();
        if (record.state == TransactionState::Completed)
            Q_EMIT completed();
        else if (record.state == TransactionState::Failed)
            Q_EMIT failed(record.error);
    }
}

} // namespace Synq
