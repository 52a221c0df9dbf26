// SPDX-License-Identifier: BSD-3-Clause
#include <synq/transactionmodel.h>

#include <synq/logging_p.h>

#include <QtCore/QMetaEnum>
#include <QtCore/QPointer>

#include <algorithm>

namespace Synq {

namespace {

// What the views were last told about a row's mutable roles, so that a change signals
// exactly the roles it changed.
struct Seen
{
    explicit Seen(const Transaction *t)
        : state(t->state()),
          mutationCount(t->mutationCount()),
          attemptCount(int(t->record().attempts.size())),
          currentAttempt(t->currentAttempt()),
          updatedAt(t->updatedAt()),
          nextRetryAt(t->nextRetryAt()),
          queuedBehind(t->queuedBehind()),
          error(t->error())
    {
    }

    Transaction::State state;
    int mutationCount;
    int attemptCount;
    int currentAttempt;
    QDateTime updatedAt;
    QDateTime nextRetryAt;
    QString queuedBehind;
    SyncError error;
};

// The roles that change with a transaction; the others (id, strategy, createdAt) never do.
const QList<int> &mutableRoles()
{
    static const QList<int> roles = {
        TransactionModel::StateRole,          TransactionModel::StateNameRole,
        TransactionModel::UpdatedAtRole,      TransactionModel::MutationCountRole,
        TransactionModel::AttemptCountRole,   TransactionModel::CurrentAttemptRole,
        TransactionModel::NextRetryAtRole,    TransactionModel::QueuedBehindRole,
        TransactionModel::ErrorCodeRole,      TransactionModel::ErrorMessageRole,
        TransactionModel::FailedBecauseOfRole, TransactionModel::CollectionsRole,
        TransactionModel::KeysRole,
    };
    return roles;
}

QList<int> changedRoles(const Seen &before, const Seen &now)
{
    QList<int> roles;
    if (before.state != now.state)
        roles << TransactionModel::StateRole << TransactionModel::StateNameRole;
    if (before.updatedAt != now.updatedAt)
        roles << TransactionModel::UpdatedAtRole;
    if (before.mutationCount != now.mutationCount) {
        // Collections and keys follow the mutations; comparing them would cost as much as
        // computing them, so a new mutation count names them too.
        roles << TransactionModel::MutationCountRole << TransactionModel::CollectionsRole
              << TransactionModel::KeysRole;
    }
    if (before.attemptCount != now.attemptCount)
        roles << TransactionModel::AttemptCountRole;
    if (before.currentAttempt != now.currentAttempt)
        roles << TransactionModel::CurrentAttemptRole;
    if (before.nextRetryAt != now.nextRetryAt)
        roles << TransactionModel::NextRetryAtRole;
    if (before.queuedBehind != now.queuedBehind)
        roles << TransactionModel::QueuedBehindRole;
    if (before.error.code() != now.error.code())
        roles << TransactionModel::ErrorCodeRole;
    if (before.error.message() != now.error.message())
        roles << TransactionModel::ErrorMessageRole;
    if (before.error.transactionId() != now.error.transactionId())
        roles << TransactionModel::FailedBecauseOfRole;
    return roles;
}

} // namespace

class TransactionModelPrivate
{
public:
    explicit TransactionModelPrivate(TransactionModel *q) : q(q) { }

    struct Row
    {
        QPointer<Transaction> transaction;
        qint64 position; // commit order, see order
        Seen seen;
    };

    bool accepts(const Transaction *t) const;
    int rowOf(qint64 position) const;
    int insertionRow(qint64 position) const;
    void attach();
    void detach();
    void rebuild();
    void reset();
    void added(Transaction *t);
    void changed(Transaction *t);
    void removed(const QString &id);
    void insertRow(int row, Transaction *t, qint64 position);
    void removeRow(int row);

    TransactionModel *q;
    QPointer<SyncEngine> engine;
    QList<QMetaObject::Connection> connections;
    QString collection;
    QList<int> states; // sorted and distinct; empty: every state

    // Every transaction the engine holds, by id, with its position in commit order. Rows are
    // kept sorted by position, so finding a transaction's row is a binary search and a new
    // transaction (the last position) is an append: nothing is renumbered when rows come and go.
    QHash<QString, qint64> order;
    qint64 nextPosition = 0;
    QList<Row> rows;
};

/*!
    \class Synq::TransactionModel
    \inmodule Synq
    \brief A live list model of a SyncEngine's transactions, for monitoring and dead letters.

    The model lists every transaction the engine holds for its current scope, in commit order:
    the ones made since the engine opened (completed ones included) and the unfinished or
    failed ones it loaded from the outbox. A transaction committed later is appended at the end.

    Two optional filters narrow the list: \l collection keeps the transactions with at least one
    mutation in that collection, and \l states keeps the transactions in one of the given
    Transaction::State values. With \c{states: [Transaction.Failed]} the model lists the dead
    letters, ready for SyncEngine::retry() or SyncEngine::discard().

    The model follows the engine live, with granular signals: a new transaction is one
    \c rowsInserted; a change to a transaction is one \c dataChanged naming exactly the roles
    that changed (a new mutation count also names \c collections and \c keys); a transaction
    whose new state enters or leaves the state filter is inserted at its commit-order position
    or removed; a discarded transaction is removed. A scope change, and the engine closing or
    opening its database, reset the model. Changing \l engine, \l collection or \l states
    resets it too.

    The model never owns a transaction: the engine does, and transactionAt() returns its
    pointer.

    Roles:
    \table
    \header \li Role \li Type \li Value
    \row \li \c transactionId \li QString \li Transaction::id (also the display role)
    \row \li \c state \li int \li Transaction::state, a Transaction::State value
    \row \li \c stateName \li QString \li Transaction::stateName
    \row \li \c strategy \li int \li Transaction::strategy
    \row \li \c createdAt \li QDateTime \li when the transaction was committed
    \row \li \c updatedAt \li QDateTime \li its last change
    \row \li \c mutationCount \li int \li the number of mutations
    \row \li \c attemptCount \li int \li the number of attempts recorded so far
    \row \li \c currentAttempt \li int \li Transaction::currentAttempt
    \row \li \c nextRetryAt \li QDateTime \li when a pending transaction will be tried again
        (the last attempt's \c retryScheduledFor); invalid in every other state
    \row \li \c queuedBehind \li QString \li the transaction this one waits for
    \row \li \c errorCode \li int \li the SyncError::Code of its error, 0 for none
    \row \li \c errorMessage \li QString \li the error's user-readable message
    \row \li \c failedBecauseOf \li QString \li for a dependency failure, the transaction whose
        failure made this one fail (SyncError::transactionId)
    \row \li \c collections \li QStringList \li the collections its mutations touch
    \row \li \c keys \li QStringList \li the distinct keys of its mutations
    \endtable

    Use it on the thread that owns the engine.

    \sa Transaction, SyncEngine::transactionHistory()
*/

/*!
    \qmltype TransactionModel
    \inqmlmodule Synq
    \brief A live list model of the engine's transactions.

    \qml
    TransactionModel {
        id: deadLetters
        engine: engine
        states: [Transaction.Failed]
    }
    ListView {
        model: deadLetters
        delegate: Row {
            required property string transactionId
            required property string errorMessage
            Label { text: errorMessage }
            Button { text: qsTr("Retry"); onClicked: engine.retry(transactionId) }
            Button { text: qsTr("Discard"); onClicked: engine.discard(transactionId) }
        }
    }
    \endqml

    The roles are \c transactionId, \c state, \c stateName, \c strategy, \c createdAt,
    \c updatedAt, \c mutationCount, \c attemptCount, \c currentAttempt, \c nextRetryAt,
    \c queuedBehind, \c errorCode, \c errorMessage, \c failedBecauseOf, \c collections and
    \c keys; see Synq::TransactionModel for their values.
*/

/*!
    \qmlproperty SyncEngine TransactionModel::engine
    The engine whose transactions the model lists.
*/

/*!
    \qmlproperty string TransactionModel::collection
    When set, only transactions with a mutation in this collection are listed.
*/

/*!
    \qmlproperty list<int> TransactionModel::states
    When not empty, only transactions in one of these Transaction states are listed, for
    example \c{[Transaction.Failed]} for the dead letters. State names (\c{"Failed"}) are
    accepted too; anything else is ignored with a warning.
*/

/*!
    \qmlproperty int TransactionModel::count
    The number of rows.
*/

TransactionModel::TransactionModel(QObject *parent)
    : QAbstractListModel(parent), d(new TransactionModelPrivate(this))
{
}

TransactionModel::TransactionModel(SyncEngine *engine, QObject *parent)
    : TransactionModel(parent)
{
    setEngine(engine);
}

TransactionModel::~TransactionModel()
{
    d->detach();
}

bool TransactionModelPrivate::accepts(const Transaction *t) const
{
    if (!states.isEmpty() && !std::binary_search(states.cbegin(), states.cend(), int(t->state())))
        return false;
    if (collection.isEmpty())
        return true;
    const QList<MutationRecord> &mutations = t->record().mutations;
    return std::any_of(mutations.cbegin(), mutations.cend(),
                       [this](const MutationRecord &m) { return m.collection == collection; });
}

int TransactionModelPrivate::insertionRow(qint64 position) const
{
    // Nearly always the end: check it before searching.
    if (rows.isEmpty() || rows.constLast().position < position)
        return int(rows.size());
    const auto it = std::lower_bound(rows.cbegin(), rows.cend(), position,
                                     [](const Row &r, qint64 p) { return r.position < p; });
    return int(it - rows.cbegin());
}

int TransactionModelPrivate::rowOf(qint64 position) const
{
    const int row = insertionRow(position);
    return row < rows.size() && rows.at(row).position == position ? row : -1;
}

void TransactionModelPrivate::detach()
{
    for (const auto &c : std::as_const(connections))
        QObject::disconnect(c);
    connections.clear();
}

void TransactionModelPrivate::attach()
{
    detach();
    if (!engine)
        return;
    SyncEngine *e = engine;
    connections << QObject::connect(e, &SyncEngine::transactionAdded, q,
                                    [this](Transaction *t) { added(t); });
    connections << QObject::connect(e, &SyncEngine::transactionChanged, q,
                                    [this](Transaction *t) { changed(t); });
    connections << QObject::connect(e, &SyncEngine::transactionRemoved, q,
                                    [this](const QString &id) { removed(id); });
    connections << QObject::connect(e, &SyncEngine::transactionsReset, q, [this] { reset(); });
    connections << QObject::connect(e, &QObject::destroyed, q, [this] {
        // The engine deletes its transactions after this: forget them first.
        detach();
        reset();
        Q_EMIT q->engineChanged();
    });
}

void TransactionModelPrivate::rebuild()
{
    order.clear();
    rows.clear();
    nextPosition = 0;
    if (!engine)
        return;
    const QList<Transaction *> history = engine->transactionHistory();
    order.reserve(history.size());
    for (Transaction *t : history) {
        if (!t || order.contains(t->id()))
            continue;
        const qint64 position = nextPosition++;
        order.insert(t->id(), position);
        if (accepts(t))
            rows.append({ t, position, Seen(t) });
    }
}

void TransactionModelPrivate::reset()
{
    const qsizetype before = rows.size();
    q->beginResetModel();
    rebuild();
    q->endResetModel();
    if (before != rows.size())
        Q_EMIT q->countChanged();
}

void TransactionModelPrivate::insertRow(int row, Transaction *t, qint64 position)
{
    q->beginInsertRows(QModelIndex(), row, row);
    rows.insert(row, { t, position, Seen(t) });
    q->endInsertRows();
    Q_EMIT q->countChanged();
}

void TransactionModelPrivate::removeRow(int row)
{
    q->beginRemoveRows(QModelIndex(), row, row);
    rows.removeAt(row);
    q->endRemoveRows();
    Q_EMIT q->countChanged();
}

void TransactionModelPrivate::added(Transaction *t)
{
    if (!t)
        return;
    if (order.contains(t->id())) {
        changed(t); // known already (e.g. from a reset that raced the signal)
        return;
    }
    const qint64 position = nextPosition++;
    order.insert(t->id(), position);
    if (accepts(t))
        insertRow(int(rows.size()), t, position);
}

void TransactionModelPrivate::changed(Transaction *t)
{
    if (!t)
        return;
    const auto it = order.constFind(t->id());
    if (it == order.cend())
        return; // not added yet (an explicit transaction being staged): added() follows
    const int row = rowOf(*it);
    const bool wanted = accepts(t);
    if (row < 0) {
        if (wanted)
            insertRow(insertionRow(*it), t, *it);
        return;
    }
    if (!wanted) {
        removeRow(row);
        return;
    }
    Row &r = rows[row];
    Seen now(t);
    QList<int> roles;
    if (r.transaction != t) {
        r.transaction = t; // the engine made a new handle for the same transaction
        roles = mutableRoles();
    } else {
        roles = changedRoles(r.seen, now);
    }
    r.seen = std::move(now);
    if (!roles.isEmpty()) {
        const QModelIndex index = q->index(row);
        Q_EMIT q->dataChanged(index, index, roles);
    }
}

void TransactionModelPrivate::removed(const QString &id)
{
    const auto it = order.constFind(id);
    if (it == order.cend())
        return;
    const int row = rowOf(*it);
    order.erase(it);
    if (row >= 0)
        removeRow(row);
}

/*!
    \property Synq::TransactionModel::engine
    The engine whose transactions the model lists. Setting it resets the model; when the
    engine is destroyed the model becomes empty.
*/
SyncEngine *TransactionModel::engine() const
{
    return d->engine;
}

void TransactionModel::setEngine(SyncEngine *engine)
{
    if (d->engine == engine)
        return;
    d->engine = engine;
    d->attach();
    d->reset();
    Q_EMIT engineChanged();
}

/*!
    \property Synq::TransactionModel::collection
    When not empty, only transactions with at least one mutation in this collection are listed.
*/
QString TransactionModel::collection() const
{
    return d->collection;
}

void TransactionModel::setCollection(const QString &collection)
{
    if (d->collection == collection)
        return;
    d->collection = collection;
    d->reset();
    Q_EMIT collectionChanged();
}

/*!
    \property Synq::TransactionModel::states
    When not empty, only transactions in one of these Transaction::State values are listed.
    Entries are state values (ints) or state names; the property reads back as the distinct
    state values in ascending order.
*/
QVariantList TransactionModel::states() const
{
    QVariantList out;
    out.reserve(d->states.size());
    for (int s : std::as_const(d->states))
        out.append(s);
    return out;
}

void TransactionModel::setStates(const QVariantList &states)
{
    const QMetaEnum meta = QMetaEnum::fromType<Transaction::State>();
    QList<int> wanted;
    for (const QVariant &entry : states) {
        bool ok = false;
        int value = -1;
        if (entry.metaType().id() == QMetaType::QString) {
            value = meta.keyToValue(entry.toString().toLatin1().constData(), &ok);
        } else {
            value = entry.toInt(&ok);
            ok = ok && meta.valueToKey(value) != nullptr;
        }
        if (!ok) {
            qCWarning(lcModel) << "TransactionModel: ignoring" << entry
                               << "in states: not a Transaction state";
            continue;
        }
        wanted.append(value);
    }
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    if (d->states == wanted)
        return;
    d->states = wanted;
    d->reset();
    Q_EMIT statesChanged();
}

/*!
    \property Synq::TransactionModel::count
    The number of rows.
*/
int TransactionModel::count() const
{
    return int(d->rows.size());
}

int TransactionModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : count();
}

QVariant TransactionModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return QVariant();
    const Transaction *t = d->rows.at(index.row()).transaction;
    if (!t)
        return QVariant();
    switch (role) {
    case Qt::DisplayRole:
    case TransactionIdRole:
        return t->id();
    case StateRole:
        return int(t->state());
    case StateNameRole:
        return t->stateName();
    case StrategyRole:
        return int(t->strategy());
    case CreatedAtRole:
        return t->createdAt();
    case UpdatedAtRole:
        return t->updatedAt();
    case MutationCountRole:
        return t->mutationCount();
    case AttemptCountRole:
        return int(t->record().attempts.size());
    case CurrentAttemptRole:
        return t->currentAttempt();
    case NextRetryAtRole:
        return t->nextRetryAt();
    case QueuedBehindRole:
        return t->queuedBehind();
    case ErrorCodeRole:
        return int(t->error().code());
    case ErrorMessageRole:
        return t->error().message();
    case FailedBecauseOfRole:
        return t->error().transactionId();
    case CollectionsRole:
        return t->collections();
    case KeysRole:
        return t->record().keys();
    default:
        return QVariant();
    }
}

QHash<int, QByteArray> TransactionModel::roleNames() const
{
    QHash<int, QByteArray> n = QAbstractListModel::roleNames();
    n.insert(TransactionIdRole, QByteArrayLiteral("transactionId"));
    n.insert(StateRole, QByteArrayLiteral("state"));
    n.insert(StateNameRole, QByteArrayLiteral("stateName"));
    n.insert(StrategyRole, QByteArrayLiteral("strategy"));
    n.insert(CreatedAtRole, QByteArrayLiteral("createdAt"));
    n.insert(UpdatedAtRole, QByteArrayLiteral("updatedAt"));
    n.insert(MutationCountRole, QByteArrayLiteral("mutationCount"));
    n.insert(AttemptCountRole, QByteArrayLiteral("attemptCount"));
    n.insert(CurrentAttemptRole, QByteArrayLiteral("currentAttempt"));
    n.insert(NextRetryAtRole, QByteArrayLiteral("nextRetryAt"));
    n.insert(QueuedBehindRole, QByteArrayLiteral("queuedBehind"));
    n.insert(ErrorCodeRole, QByteArrayLiteral("errorCode"));
    n.insert(ErrorMessageRole, QByteArrayLiteral("errorMessage"));
    n.insert(FailedBecauseOfRole, QByteArrayLiteral("failedBecauseOf"));
    n.insert(CollectionsRole, QByteArrayLiteral("collections"));
    n.insert(KeysRole, QByteArrayLiteral("keys"));
    return n;
}

/*!
    Returns the row at \a row as a map from role name (\c transactionId, \c state, ...) to
    value; an empty map for a row out of range.
*/
QVariantMap TransactionModel::get(int row) const
{
    QVariantMap map;
    if (row < 0 || row >= count())
        return map;
    const QModelIndex i = index(row);
    const QHash<int, QByteArray> names = roleNames();
    for (int role = TransactionIdRole; role <= KeysRole; ++role)
        map.insert(QString::fromLatin1(names.value(role)), data(i, role));
    return map;
}

/*!
    Returns the transaction at \a row, or nullptr for a row out of range. The engine owns it.
*/
Transaction *TransactionModel::transactionAt(int row) const
{
    if (row < 0 || row >= count())
        return nullptr;
    return d->rows.at(row).transaction;
}

/*!
    Returns the row of the transaction with \a transactionId, or -1 when the model does not
    list it.
*/
int TransactionModel::indexOf(const QString &transactionId) const
{
    const auto it = d->order.constFind(transactionId);
    return it == d->order.cend() ? -1 : d->rowOf(*it);
}

} // namespace Synq
