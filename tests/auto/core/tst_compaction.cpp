// SPDX-License-Identifier: BSD-3-Clause
#include <synq/compaction.h>
#include <synq/overlay.h>

#include <QtCore/QHash>
#include <QtCore/QJsonDocument>
#include <QtCore/QMap>
#include <QtCore/QRandomGenerator>
#include <QtCore/QSet>
#include <QtTest/QTest>

#include <optional>
#include <tuple>

using namespace Synq;

Q_DECLARE_METATYPE(Synq::StrategyKind)
Q_DECLARE_METATYPE(Synq::MutationType)
Q_DECLARE_METATYPE(Synq::TransactionState)

/*
    Outboxes are written in a compact notation, one token per transaction, in commit order.
    Transaction n (1-based) gets the id "tn" and its mutation the id "mn" ("mn.j" for the j-th
    of several):

        i:a           a pending, never attempted insert of key "a" in collection "todos"
        u:notes/a     an update of key "a" in collection "notes"
        r:a           a remove
        u:a+u:b       one transaction with two mutations (a barrier for a and b)
        u:a@s2        a transaction in scope "s2"
        -             a pending transaction without mutations
        u:a#sent      flags after '#': sent (currentAttempt 1 and one attempt), attempt
                      (currentAttempt 1, no attempt record), retried (an attempt record,
                      currentAttempt 0), queued, persisting, awaiting (PersistedAwaitingSync),
                      completed, failed, vN (every mutation has baseVersion N)

    Synced state: an item whose first transaction inserts it was never synced (not visible,
    version 0); any other item is synced as {"title":"synced","done":false} at version 3.
    Each mutation's original/modified follow the visible state as the engine records them; an
    insert tn carries {"title":"tn","done":false} and an update tn sets {"title":"tn","un":n}.

    Plans are written as "t1:i<t2,t3; t4:r<t5" (survivor, resulting type, absorbed) and
    cancellations as "t1 t2".
*/

namespace {

using ItemId = std::tuple<QString, QString, QString>; // scope, collection, key

struct Synced
{
    std::optional<QJsonObject> row;
    qint64 version = 0;
};
using SyncedState = QMap<ItemId, Synced>;

struct Outbox
{
    QList<TransactionRecord> transactions;
    SyncedState synced;
};

struct OpSpec
{
    MutationType type = MutationType::Insert;
    QString collection;
    QString key;
    QJsonObject content; // the insert's object or the update's changes
};

const QDateTime Epoch = QDateTime(QDate(2024, 1, 1), QTime(0, 0), Qt::UTC);

QString json(const std::optional<QJsonObject> &state)
{
    return state ? QString::fromUtf8(QJsonDocument(*state).toJson(QJsonDocument::Compact))
                 : QStringLiteral("(not visible)");
}

QChar letterOf(MutationType type)
{
    switch (type) {
    case MutationType::Insert:
        return u'i';
    case MutationType::Update:
        return u'u';
    case MutationType::Remove:
        return u'r';
    }
    return u'?';
}

ItemId itemOf(const TransactionRecord &tx, const MutationRecord &m)
{
    return ItemId(tx.scope, m.collection, m.key);
}

// Builds transactions the way the engine records them, following each item's visible state.
class Builder
{
public:
    explicit Builder(StrategyKind strategy) : strategy(strategy) { }

    void setSynced(const ItemId &item, const Synced &synced)
    {
        outbox.synced.insert(item, synced);
        visible.insert(item, synced.row);
    }

    void add(const QString &scope, const QList<OpSpec> &ops, const QStringList &flags)
    {
        const int n = int(outbox.transactions.size()) + 1;
        TransactionRecord tx;
        tx.id = QStringLiteral("t%1").arg(n);
        tx.scope = scope;
        tx.strategy = strategy;
        tx.createdAt = Epoch.addSecs(60 * n);
        tx.updatedAt = tx.createdAt.addSecs(30);
        qint64 forcedVersion = -1;
        for (const QString &flag : flags) {
            if (flag == QLatin1String("sent")) {
                tx.currentAttempt = 1;
                AttemptRecord attempt;
                attempt.id = QStringLiteral("a%1").arg(n);
                attempt.startedAt = tx.updatedAt;
                tx.attempts.append(attempt);
            } else if (flag == QLatin1String("attempt")) {
                tx.currentAttempt = 1;
            } else if (flag == QLatin1String("retried")) {
                AttemptRecord attempt;
                attempt.id = QStringLiteral("a%1").arg(n);
                attempt.startedAt = tx.updatedAt;
                attempt.completedAt = tx.updatedAt;
                tx.attempts.append(attempt);
            } else if (flag == QLatin1String("queued")) {
                tx.state = TransactionState::Queued;
            } else if (flag == QLatin1String("persisting")) {
                tx.state = TransactionState::Persisting;
            } else if (flag == QLatin1String("awaiting")) {
                tx.state = TransactionState::PersistedAwaitingSync;
            } else if (flag == QLatin1String("completed")) {
                tx.state = TransactionState::Completed;
            } else if (flag == QLatin1String("failed")) {
                tx.state = TransactionState::Failed;
            } else if (flag == QLatin1String("ordered")) {
                tx.strategy = StrategyKind::Ordered;
            } else if (flag == QLatin1String("parallel")) {
                tx.strategy = StrategyKind::Parallel;
            } else if (flag.startsWith(u'v')) {
                bool ok = false;
                forcedVersion = flag.mid(1).toLongLong(&ok);
                if (!ok)
                    qFatal("bad flag %s", qPrintable(flag));
            } else {
                qFatal("unknown flag %s", qPrintable(flag));
            }
        }
        const bool active = isActive(tx.state);
        for (qsizetype j = 0; j < ops.size(); ++j) {
            const OpSpec &op = ops.at(j);
            const ItemId item(scope, op.collection, op.key);
            if (!outbox.synced.contains(item))
                setSynced(item, Synced());
            const std::optional<QJsonObject> current = visible.value(item);

            MutationRecord m;
            m.id = ops.size() == 1 ? QStringLiteral("m%1").arg(n)
                                   : QStringLiteral("m%1.%2").arg(n).arg(j);
            m.transactionId = tx.id;
            m.sequence = int(j);
            m.collection = op.collection;
            m.key = op.key;
            m.type = op.type;
            m.baseVersion = forcedVersion >= 0 ? forcedVersion : outbox.synced.value(item).version;
            m.metadata = QStringLiteral("meta-%1").arg(m.id);
            m.createdAt = tx.createdAt;
            m.updatedAt = tx.updatedAt;
            if (op.type == MutationType::Insert) {
                m.modified = op.content;
                m.changes = op.content;
            } else {
                m.original = current.value_or(QJsonObject());
                if (op.type == MutationType::Update)
                    m.changes = op.content;
            }
            const std::optional<QJsonObject> after = Overlay::apply(current, m);
            if (after && op.type != MutationType::Insert)
                m.modified = *after;
            if (active)
                visible.insert(item, after);
            tx.mutations.append(m);
        }
        outbox.transactions.append(tx);
    }

    Outbox outbox;

private:
    StrategyKind strategy;
    QMap<ItemId, std::optional<QJsonObject>> visible;
};

Outbox parse(const QString &notation, StrategyKind strategy)
{
    struct Token
    {
        QString scope;
        QList<OpSpec> ops;
        QStringList flags;
    };
    QList<Token> tokens;
    const QStringList words = notation.split(u' ', Qt::SkipEmptyParts);
    for (qsizetype w = 0; w < words.size(); ++w) {
        const int n = int(w) + 1;
        QStringList parts = words.at(w).split(u'#');
        Token token;
        token.flags = parts.mid(1);
        const QStringList opsAndScope = parts.at(0).split(u'@');
        if (opsAndScope.size() > 1)
            token.scope = opsAndScope.at(1);
        if (opsAndScope.at(0) != QLatin1String("-")) {
            for (const QString &text : opsAndScope.at(0).split(u'+')) {
                if (text.size() < 3 || text.at(1) != u':')
                    qFatal("bad operation %s", qPrintable(text));
                OpSpec op;
                switch (text.at(0).unicode()) {
                case u'i':
                    op.type = MutationType::Insert;
                    op.content = { { QStringLiteral("title"), QStringLiteral("t%1").arg(n) },
                                   { QStringLiteral("done"), false } };
                    break;
                case u'u':
                    op.type = MutationType::Update;
                    op.content = { { QStringLiteral("title"), QStringLiteral("t%1").arg(n) },
                                   { QStringLiteral("u%1").arg(n), n } };
                    break;
                case u'r':
                    op.type = MutationType::Remove;
                    break;
                default:
                    qFatal("bad operation %s", qPrintable(text));
                }
                const QString target = text.mid(2);
                const qsizetype slash = target.indexOf(u'/');
                op.collection = slash < 0 ? QStringLiteral("todos") : target.left(slash);
                op.key = target.mid(slash + 1);
                token.ops.append(op);
            }
        }
        tokens.append(token);
    }

    Builder builder(strategy);
    // Items first inserted were never synced; everything else starts synced.
    for (const Token &token : std::as_const(tokens)) {
        for (const OpSpec &op : token.ops) {
            const ItemId item(token.scope, op.collection, op.key);
            if (builder.outbox.synced.contains(item))
                continue;
            Synced synced;
            if (op.type != MutationType::Insert) {
                synced.row = QJsonObject{ { QStringLiteral("title"), QStringLiteral("synced") },
                                          { QStringLiteral("done"), false } };
                synced.version = 3;
            }
            builder.setSynced(item, synced);
        }
    }
    for (const Token &token : std::as_const(tokens))
        builder.add(token.scope, token.ops, token.flags);
    return builder.outbox;
}

QString describeMerges(const Compaction::Plan &plan)
{
    QStringList out;
    for (const Compaction::Merge &merge : plan.merges) {
        out.append(QStringLiteral("%1:%2<%3")
                           .arg(merge.survivor, letterOf(merge.mutation.type),
                                merge.absorbed.join(u',')));
    }
    return out.join(QStringLiteral("; "));
}

QString describeOutbox(const QList<TransactionRecord> &outbox)
{
    QStringList out;
    for (const TransactionRecord &tx : outbox) {
        QStringList ops;
        for (const MutationRecord &m : tx.mutations) {
            ops.append(QStringLiteral("%1:%2/%3").arg(letterOf(m.type)).arg(m.collection, m.key));
        }
        QString token = ops.isEmpty() ? QStringLiteral("-") : ops.join(u'+');
        if (!tx.scope.isEmpty())
            token += u'@' + tx.scope;
        if (tx.state != TransactionState::Pending)
            token += u'#' + nameOf(tx.state);
        if (tx.currentAttempt != 0 || !tx.attempts.isEmpty())
            token += QStringLiteral("#sent");
        if (tx.strategy == StrategyKind::Parallel)
            token += QStringLiteral("#parallel");
        out.append(token);
    }
    return out.join(u' ');
}

// The outbox as it is sent after the plan: survivors carry the merged mutations, absorbed and
// cancelled transactions are gone.
QList<TransactionRecord> applyPlan(const QList<TransactionRecord> &outbox,
                                   const Compaction::Plan &plan)
{
    QHash<QString, MutationRecord> merged;
    QSet<QString> dropped;
    for (const Compaction::Merge &merge : plan.merges) {
        merged.insert(merge.survivor, merge.mutation);
        for (const QString &id : merge.absorbed)
            dropped.insert(id);
    }
    for (const QString &id : plan.cancelled)
        dropped.insert(id);

    QList<TransactionRecord> out;
    for (const TransactionRecord &tx : outbox) {
        if (dropped.contains(tx.id))
            continue;
        TransactionRecord copy = tx;
        if (merged.contains(tx.id))
            copy.mutations = { merged.value(tx.id) };
        out.append(copy);
    }
    return out;
}

// The visible state of every item after sending the outbox's active transactions.
QMap<ItemId, std::optional<QJsonObject>> visibleStates(const QList<TransactionRecord> &outbox,
                                                       const SyncedState &synced)
{
    QMap<ItemId, QList<MutationRecord>> pending;
    for (auto it = synced.cbegin(); it != synced.cend(); ++it)
        pending.insert(it.key(), {});
    for (const TransactionRecord &tx : outbox) {
        if (!isActive(tx.state))
            continue;
        for (const MutationRecord &m : tx.mutations)
            pending[itemOf(tx, m)].append(m);
    }
    QMap<ItemId, std::optional<QJsonObject>> out;
    for (auto it = pending.cbegin(); it != pending.cend(); ++it)
        out.insert(it.key(), Overlay::visibleState(synced.value(it.key()).row, it.value()));
    return out;
}

QString itemName(const ItemId &item)
{
    return QStringLiteral("%1/%2@%3")
            .arg(std::get<1>(item), std::get<2>(item), std::get<0>(item));
}

/*
    Everything a plan must satisfy for its outbox, whatever the outbox: returns what is wrong,
    or an empty string. Checks the shape (ids, order, same item, consecutive folds, only
    compactable transactions), the merged mutations' identity and timestamps, that sending the
    plan shows every item as sending the whole outbox would, and that compaction is done in one
    go (planning the compacted outbox finds nothing more).
*/
QString checkPlan(const Outbox &outbox, const Compaction::Plan &plan)
{
    const QList<TransactionRecord> &txs = outbox.transactions;
    QHash<QString, qsizetype> indexOf;
    for (qsizetype i = 0; i < txs.size(); ++i)
        indexOf.insert(txs.at(i).id, i);

    QSet<QString> used;
    auto use = [&](const QString &id) -> QString {
        if (!indexOf.contains(id))
            return QStringLiteral("%1 is not in the outbox").arg(id);
        if (used.contains(id))
            return QStringLiteral("%1 appears twice in the plan").arg(id);
        used.insert(id);
        if (!Compaction::isCompactable(txs.at(indexOf.value(id))))
            return QStringLiteral("%1 is not compactable").arg(id);
        return QString();
    };

    qsizetype previousSurvivor = -1;
    for (const Compaction::Merge &merge : plan.merges) {
        if (QString error = use(merge.survivor); !error.isEmpty())
            return error;
        const qsizetype s = indexOf.value(merge.survivor);
        if (s <= previousSurvivor)
            return QStringLiteral("merges are not in commit order at %1").arg(merge.survivor);
        previousSurvivor = s;
        if (merge.absorbed.isEmpty())
            return QStringLiteral("%1 is a merge that absorbs nothing").arg(merge.survivor);

        const TransactionRecord &survivor = txs.at(s);
        if (survivor.strategy != StrategyKind::Ordered)
            return QStringLiteral("%1 is parallel but absorbs others").arg(merge.survivor);
        const MutationRecord &before = survivor.mutations.constFirst();
        const MutationRecord &after = merge.mutation;
        const ItemId item = itemOf(survivor, before);
        if (after.id != before.id || after.transactionId != survivor.id
            || after.key != before.key || after.collection != before.collection
            || after.sequence != before.sequence || after.metadata != before.metadata
            || after.state != before.state || after.createdAt != before.createdAt) {
            return QStringLiteral("%1's merged mutation lost its identity").arg(merge.survivor);
        }
        if (after.baseVersion != before.baseVersion)
            return QStringLiteral("%1's merged mutation changed its base version")
                    .arg(merge.survivor);
        if (after.type != MutationType::Insert && after.original != before.original)
            return QStringLiteral("%1's merged mutation changed its original").arg(merge.survivor);

        qsizetype last = s;
        QSet<qsizetype> absorbed;
        for (const QString &id : merge.absorbed) {
            if (QString error = use(id); !error.isEmpty())
                return error;
            const qsizetype a = indexOf.value(id);
            if (a <= last)
                return QStringLiteral("%1 absorbs %2 out of commit order").arg(merge.survivor, id);
            last = a;
            absorbed.insert(a);
            if (txs.at(a).strategy != StrategyKind::Ordered)
                return QStringLiteral("%1 absorbs %2, which is parallel").arg(merge.survivor, id);
            if (itemOf(txs.at(a), txs.at(a).mutations.constFirst()) != item)
                return QStringLiteral("%1 absorbs %2 of another item").arg(merge.survivor, id);
        }
        if (after.updatedAt != txs.at(last).mutations.constFirst().updatedAt)
            return QStringLiteral("%1's updatedAt is not the last absorbed one's")
                    .arg(merge.survivor);
        // Consecutive: every active transaction on the item in between is absorbed.
        for (qsizetype i = s + 1; i < last; ++i) {
            const TransactionRecord &tx = txs.at(i);
            if (!isActive(tx.state) || absorbed.contains(i))
                continue;
            for (const MutationRecord &m : tx.mutations) {
                if (itemOf(tx, m) == item)
                    return QStringLiteral("%1 merges across %2").arg(merge.survivor, tx.id);
            }
        }
    }

    // Cancelled: commit order, compactable, and per item runs that start with an insert and
    // end with a remove.
    qsizetype previousCancelled = -1;
    QSet<QString> cancelled;
    for (const QString &id : plan.cancelled) {
        if (QString error = use(id); !error.isEmpty())
            return error;
        if (indexOf.value(id) <= previousCancelled)
            return QStringLiteral("cancellations are not in commit order at %1").arg(id);
        previousCancelled = indexOf.value(id);
        cancelled.insert(id);
    }
    QMap<ItemId, QList<qsizetype>> onItem;
    for (qsizetype i = 0; i < txs.size(); ++i) {
        if (!isActive(txs.at(i).state))
            continue;
        for (const MutationRecord &m : txs.at(i).mutations) {
            QList<qsizetype> &list = onItem[itemOf(txs.at(i), m)];
            if (list.isEmpty() || list.constLast() != i)
                list.append(i);
        }
    }
    for (auto it = onItem.cbegin(); it != onItem.cend(); ++it) {
        const QList<qsizetype> &list = it.value();
        for (qsizetype j = 0; j < list.size(); ++j) {
            if (!cancelled.contains(txs.at(list.at(j)).id))
                continue;
            const qsizetype start = j;
            while (j + 1 < list.size() && cancelled.contains(txs.at(list.at(j + 1)).id))
                ++j;
            const MutationRecord &first = txs.at(list.at(start)).mutations.constFirst();
            const MutationRecord &end = txs.at(list.at(j)).mutations.constFirst();
            if (first.type != MutationType::Insert || end.type != MutationType::Remove)
                return QStringLiteral("the cancelled run %1..%2 on %3 is not insert..remove")
                        .arg(txs.at(list.at(start)).id, txs.at(list.at(j)).id,
                             itemName(it.key()));
        }
    }

    // Sending the plan shows the same as sending everything.
    const QList<TransactionRecord> compacted = applyPlan(txs, plan);
    const auto expected = visibleStates(txs, outbox.synced);
    const auto actual = visibleStates(compacted, outbox.synced);
    for (auto it = expected.cbegin(); it != expected.cend(); ++it) {
        const std::optional<QJsonObject> got = actual.value(it.key());
        if (got != it.value())
            return QStringLiteral("%1 shows %2 after the plan but %3 after the whole outbox")
                    .arg(itemName(it.key()), json(got), json(it.value()));
        // An item whose last transaction was cancelled ends as an insert..remove does.
        const QList<qsizetype> list = onItem.value(it.key());
        if (!list.isEmpty() && cancelled.contains(txs.at(list.constLast()).id)
            && (got || it.value())) {
            return QStringLiteral("%1 ends in a cancelled chain but is visible")
                    .arg(itemName(it.key()));
        }
    }

    const Compaction::Plan again = Compaction::plan(compacted);
    if (!again.isEmpty())
        return QStringLiteral("the compacted outbox compacts further: %1 / %2")
                .arg(describeMerges(again), again.cancelled.join(u' '));
    return QString();
}

struct RunStats
{
    int insertMerges = 0;
    int updateMerges = 0;
    int removeMerges = 0;
    int cancelled = 0;
    int barriers = 0;
};

// A random outbox: mostly what the engine would record, sometimes any operation at all.
// mixed: each transaction is ordered or parallel at random, whatever `strategy` says.
Outbox randomOutbox(QRandomGenerator &random, StrategyKind strategy, bool mixed = false)
{
    static const QString fields[] = { QStringLiteral("title"), QStringLiteral("done"),
                                      QStringLiteral("n"), QStringLiteral("x") };
    auto value = [&]() -> QJsonValue {
        switch (random.bounded(4)) {
        case 0:
            return QJsonValue::Null;
        case 1:
            return random.bounded(2) == 1;
        case 2:
            return int(random.bounded(5));
        default:
            return QStringLiteral("v%1").arg(random.bounded(5));
        }
    };
    auto object = [&](int minFields) {
        QJsonObject o;
        const int count = minFields + int(random.bounded(3));
        for (int f = 0; f < count; ++f)
            o.insert(fields[random.bounded(4)], value());
        return o;
    };

    const QString scopes[] = { QString(), QStringLiteral("s2") };
    const QString collections[] = { QStringLiteral("todos"), QStringLiteral("notes") };
    const QString keys[] = { QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c") };

    Builder builder(strategy);
    for (const QString &scope : scopes) {
        for (const QString &collection : collections) {
            for (const QString &key : keys) {
                Synced synced;
                if (random.bounded(2) == 1) {
                    synced.row = object(1);
                    synced.version = 1 + random.bounded(9);
                }
                builder.setSynced(ItemId(scope, collection, key), synced);
            }
        }
    }
    QMap<ItemId, bool> shown; // follows the active transactions, as the builder does
    for (auto it = builder.outbox.synced.cbegin(); it != builder.outbox.synced.cend(); ++it)
        shown.insert(it.key(), it.value().row.has_value());

    // Few items, so that folds, barriers and re-inserts meet often.
    const int itemCount = 1 + int(random.bounded(4));
    QList<std::pair<QString, std::pair<QString, QString>>> items;
    for (int k = 0; k < itemCount; ++k) {
        items.append({ random.bounded(6) == 0 ? scopes[1] : scopes[0],
                       { collections[random.bounded(2)], keys[random.bounded(3)] } });
    }

    const int length = 1 + int(random.bounded(14));
    for (int t = 0; t < length; ++t) {
        const auto &pick = items.at(random.bounded(itemCount));
        const QString scope = pick.first;
        QStringList flags;
        if (mixed)
            flags.append(random.bounded(2) ? QStringLiteral("parallel") : QStringLiteral("ordered"));
        int mutations = 1;
        const int kind = int(random.bounded(100));
        if (kind < 72) {
            // compactable
        } else if (kind < 80) {
            mutations = 2 + int(random.bounded(2));
        } else if (kind < 84) {
            flags.append(QStringLiteral("sent"));
        } else if (kind < 86) {
            flags.append(QStringLiteral("retried"));
        } else if (kind < 89) {
            flags.append(QStringLiteral("persisting"));
        } else if (kind < 91) {
            flags.append(QStringLiteral("queued"));
        } else if (kind < 93) {
            flags.append(QStringLiteral("awaiting"));
        } else if (kind < 97) {
            flags.append(QStringLiteral("completed"));
        } else {
            flags.append(QStringLiteral("failed"));
        }
        const bool active = flags.isEmpty()
                || (flags.constFirst() != QLatin1String("completed")
                    && flags.constFirst() != QLatin1String("failed"));

        QList<OpSpec> ops;
        for (int j = 0; j < mutations; ++j) {
            // The extra mutations of a multi-mutation transaction may touch other items of
            // the same scope.
            OpSpec op;
            op.collection = j == 0 ? pick.second.first : collections[random.bounded(2)];
            op.key = j == 0 ? pick.second.second : keys[random.bounded(3)];
            const ItemId item(scope, op.collection, op.key);
            const bool isShown = shown.value(item);
            if (random.bounded(100) < 85) {
                op.type = !isShown ? MutationType::Insert
                                   : (random.bounded(5) < 3 ? MutationType::Update
                                                            : MutationType::Remove);
            } else {
                op.type = MutationType(random.bounded(3));
            }
            if (op.type == MutationType::Insert)
                op.content = object(0);
            else if (op.type == MutationType::Update)
                op.content = object(1);
            if (active) {
                if (op.type == MutationType::Insert)
                    shown[item] = true;
                else if (op.type == MutationType::Remove)
                    shown[item] = false;
            }
            ops.append(op);
        }
        builder.add(scope, ops, flags);
    }
    return builder.outbox;
}

} // namespace

class tst_Compaction : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data();
    void isCompactable_data();
    void isCompactable();
    void plan_data();
    void plan();
    void mergedMutation_data();
    void mergedMutation();
    void mergesKeepTheSurvivorsTransactionIdentity();
    void emptyOutboxHasAnEmptyPlan();
    void sameOutboxSamePlan();
    void randomOutboxesKeepTheVisibleState_data();
    void randomOutboxesKeepTheVisibleState();
    void strategiesMeet_data();
    void strategiesMeet();
    void randomMixedOutboxesNeverMergeParallelTransactions_data();
    void randomMixedOutboxesNeverMergeParallelTransactions();

private:
    // The plan of an outbox in the notation of parse(), checked against the expected merges
    // and cancellations and by checkPlan().
    void comparePlan(const QString &outbox, const QString &merges, const QString &cancelled);
    static StrategyKind strategy()
    {
        QFETCH_GLOBAL(Synq::StrategyKind, strategy);
        return strategy;
    }
};

void tst_Compaction::initTestCase_data()
{
    QTest::addColumn<Synq::StrategyKind>("strategy");
    QTest::newRow("ordered") << StrategyKind::Ordered;
    QTest::newRow("parallel") << StrategyKind::Parallel;
}

void tst_Compaction::isCompactable_data()
{
    QTest::addColumn<QString>("outbox");
    QTest::addColumn<bool>("expected");

    QTest::newRow("a pending single update that was never sent takes part") << "u:a" << true;
    QTest::newRow("a pending single insert takes part") << "i:a" << true;
    QTest::newRow("a pending single remove takes part") << "r:a" << true;
    QTest::newRow("a transaction with two mutations does not") << "u:a+u:b" << false;
    QTest::newRow("a transaction with two mutations of one key does not") << "u:a+u:a" << false;
    QTest::newRow("a transaction without mutations does not") << "-" << false;
    QTest::newRow("a sent transaction does not") << "u:a#sent" << false;
    QTest::newRow("a transaction with a current attempt but no record does not")
            << "u:a#attempt" << false;
    QTest::newRow("a transaction with an attempt record but no current attempt does not")
            << "u:a#retried" << false;
    QTest::newRow("a queued transaction does") << "u:a#queued" << true;
    QTest::newRow("a queued transaction that was sent does not") << "u:a#queued#sent" << false;
    QTest::newRow("a persisting transaction does not") << "u:a#persisting" << false;
    QTest::newRow("a transaction awaiting sync does not") << "u:a#awaiting" << false;
    QTest::newRow("a completed transaction does not") << "u:a#completed" << false;
    QTest::newRow("a failed transaction does not") << "u:a#failed" << false;
}

void tst_Compaction::isCompactable()
{
    QFETCH(QString, outbox);
    QFETCH(bool, expected);

    const Outbox built = parse(outbox, strategy());
    QCOMPARE(built.transactions.size(), 1);
    QCOMPARE(Compaction::isCompactable(built.transactions.constFirst()), expected);
}

void tst_Compaction::plan_data()
{
    QTest::addColumn<QString>("outbox");
    QTest::addColumn<QString>("merges");
    QTest::addColumn<QString>("cancelled");

    auto row = [](const char *tag, const char *outbox, const char *merges, const char *cancelled) {
        QTest::newRow(tag) << QString::fromLatin1(outbox) << QString::fromLatin1(merges)
                           << QString::fromLatin1(cancelled);
    };

    // Nothing to do.
    row("an empty outbox has nothing to compact", "", "", "");
    row("a single insert stays as it is", "i:a", "", "");
    row("a single update stays as it is", "u:a", "", "");
    row("a single remove stays as it is", "r:a", "", "");

    // Every pair of operations on one key.
    row("insert then insert is not merged", "i:a i:a", "", "");
    row("insert then update becomes an insert", "i:a u:a", "t1:i<t2", "");
    row("insert then remove of a never-synced item cancels both", "i:a r:a", "", "t1 t2");
    row("update then insert is not merged", "u:a i:a", "", "");
    row("update then update becomes one update", "u:a u:a", "t1:u<t2", "");
    row("update then remove becomes a remove", "u:a r:a", "t1:r<t2", "");
    row("remove then insert is not merged", "r:a i:a", "", "");
    row("remove then update is not merged", "r:a u:a", "", "");
    row("remove then remove is not merged", "r:a r:a", "", "");

    // Every triple of operations on one key.
    row("insert, insert, insert merge nothing", "i:a i:a i:a", "", "");
    row("insert, insert, update fold the update into the second insert", "i:a i:a u:a",
        "t2:i<t3", "");
    row("insert, insert, remove cancel nothing since the second insert may meet the first",
        "i:a i:a r:a", "", "");
    row("insert, update, insert keep the first merge and leave the second insert",
        "i:a u:a i:a", "t1:i<t2", "");
    row("insert, update, update become one insert", "i:a u:a u:a", "t1:i<t2,t3", "");
    row("insert, update, remove cancel all three", "i:a u:a r:a", "", "t1 t2 t3");
    row("insert, remove, insert cancel the pair and keep the new insert", "i:a r:a i:a", "",
        "t1 t2");
    row("insert, remove, update cancel the pair and keep the update", "i:a r:a u:a", "",
        "t1 t2");
    row("insert, remove, remove cancel the pair and keep the second remove", "i:a r:a r:a", "",
        "t1 t2");
    row("update, insert, insert merge nothing", "u:a i:a i:a", "", "");
    row("update, insert, update fold the update into the insert", "u:a i:a u:a", "t2:i<t3", "");
    row("update, insert, remove of a synced item cancel nothing", "u:a i:a r:a", "", "");
    row("update, update, insert merge the updates", "u:a u:a i:a", "t1:u<t2", "");
    row("update, update, update become one update", "u:a u:a u:a", "t1:u<t2,t3", "");
    row("update, update, remove become one remove", "u:a u:a r:a", "t1:r<t2,t3", "");
    row("update, remove, insert end the fold at the remove", "u:a r:a i:a", "t1:r<t2", "");
    row("update, remove, update end the fold at the remove", "u:a r:a u:a", "t1:r<t2", "");
    row("update, remove, remove end the fold at the first remove", "u:a r:a r:a", "t1:r<t2",
        "");
    row("remove, insert, insert merge nothing", "r:a i:a i:a", "", "");
    row("remove, insert, update fold the update into the insert", "r:a i:a u:a", "t2:i<t3", "");
    row("remove, insert, remove of a synced item cancel nothing", "r:a i:a r:a", "", "");
    row("remove, update, insert merge nothing", "r:a u:a i:a", "", "");
    row("remove, update, update merge the updates after the remove", "r:a u:a u:a", "t2:u<t3",
        "");
    row("remove, update, remove merge the update and the last remove", "r:a u:a r:a",
        "t2:r<t3", "");
    row("remove, remove, insert merge nothing", "r:a r:a i:a", "", "");
    row("remove, remove, update merge nothing", "r:a r:a u:a", "", "");
    row("remove, remove, remove merge nothing", "r:a r:a r:a", "", "");

    // Longer folds and re-inserts.
    row("five updates become one", "u:a u:a u:a u:a u:a", "t1:u<t2,t3,t4,t5", "");
    row("an insert followed by four updates and a remove all cancel",
        "i:a u:a u:a u:a u:a r:a", "", "t1 t2 t3 t4 t5 t6");
    row("a re-insert after a cancelled pair starts a new survivor", "i:a r:a i:a u:a",
        "t3:i<t4", "t1 t2");
    row("a re-insert after a cancelled pair can be cancelled again", "i:a u:a r:a i:a r:a", "",
        "t1 t2 t3 t4 t5");
    row("a re-insert after a sent insert and a remove cancels with its own remove",
        "i:a#sent r:a i:a r:a", "", "t3 t4");
    row("a re-insert of a synced item is not cancelled by its remove", "i:a#v4 r:a", "", "");
    row("a re-insert of a synced item still absorbs its updates", "i:a#v4 u:a", "t1:i<t2", "");
    row("a remove in the middle ends one fold and the updates after it start another",
        "u:a u:a r:a u:a u:a", "t1:r<t2,t3; t4:u<t5", "");

    // Interleaved keys, collections and scopes.
    row("updates of two keys merge per key", "u:a u:b u:a u:b", "t1:u<t3; t2:u<t4", "");
    row("merges come in the commit order of their survivors", "u:b u:a u:a r:a u:b",
        "t1:u<t5; t2:r<t3,t4", "");
    row("an insert and remove of one key cancel around another key's updates",
        "i:a u:b u:b r:a", "t2:u<t3", "t1 t4");
    row("interleaved inserts each fold and cancel on their own key", "i:a i:b u:a u:b r:a",
        "t2:i<t4", "t1 t3 t5");
    row("the same key in two collections is two items", "u:a u:notes/a", "", "");
    row("the same key in two collections folds per collection",
        "i:a i:notes/a r:a u:notes/a", "t2:i<t4", "t1 t3");
    row("a remove in one collection does not cancel an insert in another", "i:a r:notes/a", "",
        "");
    row("the same key in two scopes is two items", "u:a u:a@s2 u:a u:a@s2",
        "t1:u<t3; t2:u<t4", "");
    row("an insert in one scope is not cancelled by a remove in another", "i:a r:a@s2", "", "");

    // Barriers.
    row("a multi-mutation transaction on the key stops the fold", "u:a u:a+u:b u:a", "", "");
    row("a multi-mutation transaction on other keys does not stop the fold",
        "u:a u:b+u:c u:a", "t1:u<t3", "");
    row("a multi-mutation transaction stops the fold on each of its keys",
        "u:a u:b u:a+u:b u:a u:b", "", "");
    row("a multi-mutation transaction stops an insert from being cancelled",
        "i:a u:a+u:b r:a", "", "");
    row("folds before and after a multi-mutation transaction stay apart",
        "u:a u:a u:a+u:b u:a u:a", "t1:u<t2; t4:u<t5", "");
    row("a sent transaction stops the fold", "u:a u:a#sent u:a", "", "");
    row("a sent transaction is sent as it is and later ones fold", "u:a#sent u:a u:a",
        "t2:u<t3", "");
    row("a sent insert is not cancelled by a later remove", "i:a#sent r:a", "", "");
    row("a sent insert's later updates and remove become one remove", "i:a#sent u:a r:a",
        "t2:r<t3", "");
    row("a transaction with a current attempt stops the fold", "u:a u:a#attempt u:a", "", "");
    row("a transaction with an attempt record stops the fold", "u:a u:a#retried u:a", "", "");
    row("a persisting transaction stops the insert from being cancelled",
        "i:a u:a#persisting r:a", "", "");
    row("a persisting transaction keeps the merge before it", "i:a u:a u:a#persisting u:a",
        "t1:i<t2", "");
    row("queued transactions fold: what is merged waits with the survivor",
        "u:a#queued u:a#queued u:a#queued", "t1:u<t2,t3", "");
    row("a queued insert and its removal cancel", "i:a#queued r:a#queued", "", "t1 t2");
    row("a transaction awaiting sync stops the fold", "u:a u:a#awaiting u:a", "", "");
    row("a barrier on another key changes nothing", "u:a u:b#persisting u:a", "t1:u<t3", "");
    row("a barrier remove lets a later insert and remove cancel", "r:a#persisting i:a#v0 r:a",
        "", "t2 t3");
    row("a barrier insert keeps a later insert from being cancelled",
        "i:a#persisting i:a r:a", "", "");
    row("a transaction without mutations changes nothing", "u:a - u:a", "t1:u<t3", "");

    // Completed and failed transactions are not there.
    row("a completed transaction in the middle is ignored", "i:a u:a#completed u:a", "t1:i<t3",
        "");
    row("a failed transaction in the middle is ignored", "u:a u:a#failed u:a", "t1:u<t3", "");
    row("a failed remove does not stop an insert from being cancelled",
        "i:a r:a#failed r:a", "", "t1 t3");
    row("a failed insert before does not count as the item's previous transaction",
        "i:a#failed i:a r:a", "", "t2 t3");
    row("only completed and failed transactions compact to nothing",
        "u:a#completed u:a#failed", "", "");
}

void tst_Compaction::plan()
{
    QFETCH(QString, outbox);
    QFETCH(QString, merges);
    QFETCH(QString, cancelled);

    // Parallel transactions persist and fail alone: nothing merges. The chains of a
    // never-synced insert that end in its removal cancel as they do for ordered ones.
    comparePlan(outbox, strategy() == StrategyKind::Parallel ? QString() : merges, cancelled);
}

void tst_Compaction::comparePlan(const QString &outbox, const QString &merges,
                                 const QString &cancelled)
{
    const Outbox built = parse(outbox, strategy());
    const Compaction::Plan plan = Compaction::plan(built.transactions);
    QCOMPARE(describeMerges(plan), merges);
    QCOMPARE(plan.cancelled.join(u' '), cancelled);
    const QString problem = checkPlan(built, plan);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
}

void tst_Compaction::strategiesMeet_data()
{
    QTest::addColumn<QString>("outbox");
    QTest::addColumn<QString>("merges");
    QTest::addColumn<QString>("cancelled");

    auto row = [](const char *tag, const char *outbox, const char *merges, const char *cancelled) {
        QTest::newRow(tag) << QString::fromLatin1(outbox) << QString::fromLatin1(merges)
                           << QString::fromLatin1(cancelled);
    };
    row("an ordered update and a parallel one after it do not merge",
        "u:a#ordered u:a#parallel", "", "");
    row("a parallel update and an ordered one after it do not merge",
        "u:a#parallel u:a#ordered", "", "");
    row("three parallel field edits of one row stay three", "u:a#parallel u:a#parallel u:a#parallel",
        "", "");
    row("ordered updates after a parallel one merge among themselves",
        "u:a#parallel u:a#ordered u:a#ordered", "t2:u<t3", "");
    row("a parallel update between ordered ones keeps them apart",
        "u:a#ordered u:a#parallel u:a#ordered", "", "");
    row("a parallel remove is not absorbed by an ordered update", "u:a#ordered r:a#parallel", "",
        "");
    row("a parallel insert and its parallel removal cancel", "i:a#parallel r:a#parallel", "",
        "t1 t2");
    row("a parallel insert, its updates and its removal all cancel",
        "i:a#parallel u:a#parallel u:a#parallel r:a#parallel", "", "t1 t2 t3 t4");
    row("an ordered insert and a parallel removal cancel", "i:a#ordered r:a#parallel", "",
        "t1 t2");
    row("a parallel update after an ordered insert rides along and stops later merges",
        "i:a#ordered u:a#parallel u:a#ordered", "", "");
    row("the removal cancels the insert with its merged and riding updates",
        "i:a#ordered u:a#ordered u:a#parallel u:a#ordered r:a#ordered", "", "t1 t2 t3 t4 t5");
    row("an ordered insert absorbs the ordered updates before a parallel one",
        "i:a#ordered u:a#ordered u:a#parallel", "t1:i<t2", "");
    row("a parallel insert of a synced item is not cancelled by its removal",
        "i:a#parallel#v4 r:a#parallel", "", "");
}

void tst_Compaction::strategiesMeet()
{
    QFETCH(QString, outbox);
    QFETCH(QString, merges);
    QFETCH(QString, cancelled);

    // Every transaction names its strategy: the global one does not matter here.
    comparePlan(outbox, merges, cancelled);
}

void tst_Compaction::mergedMutation_data()
{
    QTest::addColumn<QString>("outbox");
    QTest::addColumn<MutationType>("type");
    QTest::addColumn<QJsonObject>("original");
    QTest::addColumn<QJsonObject>("modified");
    QTest::addColumn<QJsonObject>("changes");
    QTest::addColumn<qint64>("baseVersion");

    const QJsonObject synced{ { QStringLiteral("title"), QStringLiteral("synced") },
                              { QStringLiteral("done"), false } };
    const QJsonObject none;

    {
        const QJsonObject row{ { QStringLiteral("title"), QStringLiteral("t2") },
                               { QStringLiteral("done"), false },
                               { QStringLiteral("u2"), 2 } };
        QTest::newRow("insert and update carry the inserted object with the update applied")
                << "i:a u:a" << MutationType::Insert << none << row << row << qint64(0);
    }
    {
        const QJsonObject row{ { QStringLiteral("title"), QStringLiteral("t3") },
                               { QStringLiteral("done"), false },
                               { QStringLiteral("u2"), 2 },
                               { QStringLiteral("u3"), 3 } };
        QTest::newRow("insert and two updates apply both updates in order")
                << "i:a u:a u:a" << MutationType::Insert << none << row << row << qint64(0);
    }
    {
        const QJsonObject row{ { QStringLiteral("title"), QStringLiteral("t3") },
                               { QStringLiteral("done"), false },
                               { QStringLiteral("u3"), 3 } };
        QTest::newRow("a re-insert of a synced item keeps its own base version")
                << "r:a i:a u:a" << MutationType::Insert << none << row << row << qint64(3);
    }
    QTest::newRow("two updates merge their changes and the later one wins per field")
            << "u:a u:a" << MutationType::Update << synced
            << QJsonObject{ { QStringLiteral("title"), QStringLiteral("t2") },
                            { QStringLiteral("done"), false },
                            { QStringLiteral("u1"), 1 },
                            { QStringLiteral("u2"), 2 } }
            << QJsonObject{ { QStringLiteral("title"), QStringLiteral("t2") },
                            { QStringLiteral("u1"), 1 },
                            { QStringLiteral("u2"), 2 } }
            << qint64(3);
    QTest::newRow("merged updates keep the earlier base version")
            << "u:a#v5 u:a#v9" << MutationType::Update << synced
            << QJsonObject{ { QStringLiteral("title"), QStringLiteral("t2") },
                            { QStringLiteral("done"), false },
                            { QStringLiteral("u1"), 1 },
                            { QStringLiteral("u2"), 2 } }
            << QJsonObject{ { QStringLiteral("title"), QStringLiteral("t2") },
                            { QStringLiteral("u1"), 1 },
                            { QStringLiteral("u2"), 2 } }
            << qint64(5);
    QTest::newRow("update and remove become a remove of the update's original")
            << "u:a r:a" << MutationType::Remove << synced << none << none << qint64(3);
    QTest::newRow("updates and a remove become a remove on the first update's base")
            << "u:a#v2 u:a#v7 r:a#v8" << MutationType::Remove << synced << none << none
            << qint64(2);
}

void tst_Compaction::mergedMutation()
{
    QFETCH(QString, outbox);
    QFETCH(MutationType, type);
    QFETCH(QJsonObject, original);
    QFETCH(QJsonObject, modified);
    QFETCH(QJsonObject, changes);
    QFETCH(qint64, baseVersion);

    const Outbox built = parse(outbox, strategy());
    const Compaction::Plan plan = Compaction::plan(built.transactions);
    QVERIFY(plan.cancelled.isEmpty());
    if (strategy() == StrategyKind::Parallel) {
        QVERIFY(plan.merges.isEmpty()); // each goes as it is
        return;
    }
    QCOMPARE(plan.merges.size(), 1);
    const MutationRecord &m = plan.merges.constFirst().mutation;
    QCOMPARE(m.type, type);
    QCOMPARE(m.original, original);
    QCOMPARE(m.modified, modified);
    QCOMPARE(m.changes, changes);
    QCOMPARE(m.baseVersion, baseVersion);
}

void tst_Compaction::mergesKeepTheSurvivorsTransactionIdentity()
{
    const Outbox built = parse(QStringLiteral("u:b i:a u:b u:a u:a"), strategy());
    const Compaction::Plan plan = Compaction::plan(built.transactions);
    if (strategy() == StrategyKind::Parallel) {
        QVERIFY(plan.isEmpty());
        return;
    }
    QCOMPARE(plan.merges.size(), 2);

    const Compaction::Merge &first = plan.merges.at(0);
    QCOMPARE(first.survivor, QStringLiteral("t1"));
    QCOMPARE(first.absorbed, QStringList{ QStringLiteral("t3") });
    QCOMPARE(first.mutation.id, QStringLiteral("m1"));
    QCOMPARE(first.mutation.transactionId, QStringLiteral("t1"));
    QCOMPARE(first.mutation.key, QStringLiteral("b"));
    QCOMPARE(first.mutation.collection, QStringLiteral("todos"));
    QCOMPARE(first.mutation.metadata, QJsonValue(QStringLiteral("meta-m1")));
    QCOMPARE(first.mutation.createdAt, built.transactions.at(0).mutations.at(0).createdAt);
    QCOMPARE(first.mutation.updatedAt, built.transactions.at(2).mutations.at(0).updatedAt);

    const Compaction::Merge &second = plan.merges.at(1);
    QCOMPARE(second.survivor, QStringLiteral("t2"));
    QCOMPARE(second.absorbed, (QStringList{ QStringLiteral("t4"), QStringLiteral("t5") }));
    QCOMPARE(second.mutation.id, QStringLiteral("m2"));
    QCOMPARE(second.mutation.transactionId, QStringLiteral("t2"));
    QCOMPARE(second.mutation.type, MutationType::Insert);
    QCOMPARE(second.mutation.createdAt, built.transactions.at(1).mutations.at(0).createdAt);
    QCOMPARE(second.mutation.updatedAt, built.transactions.at(4).mutations.at(0).updatedAt);
    QVERIFY(second.mutation.updatedAt > second.mutation.createdAt);
}

void tst_Compaction::emptyOutboxHasAnEmptyPlan()
{
    const Compaction::Plan plan = Compaction::plan({});
    QVERIFY(plan.isEmpty());
    QVERIFY(plan.merges.isEmpty());
    QVERIFY(plan.cancelled.isEmpty());
}

void tst_Compaction::sameOutboxSamePlan()
{
    const Outbox built = parse(
            QStringLiteral("u:b i:a u:c u:b u:a i:notes/a r:a u:c u:c@s2 u:c@s2 r:notes/a"),
            strategy());
    const Compaction::Plan first = Compaction::plan(built.transactions);
    QCOMPARE(describeMerges(first), strategy() == StrategyKind::Parallel
                     ? QString()
                     : QStringLiteral("t1:u<t4; t3:u<t8; t9:u<t10"));
    QCOMPARE(first.cancelled.join(u' '), QStringLiteral("t2 t5 t6 t7 t11"));
    for (int round = 0; round < 20; ++round) {
        const Compaction::Plan again = Compaction::plan(built.transactions);
        QCOMPARE(describeMerges(again), describeMerges(first));
        QCOMPARE(again.cancelled, first.cancelled);
        for (qsizetype i = 0; i < first.merges.size(); ++i) {
            const MutationRecord &a = first.merges.at(i).mutation;
            const MutationRecord &b = again.merges.at(i).mutation;
            QCOMPARE(b.id, a.id);
            QCOMPARE(b.type, a.type);
            QCOMPARE(b.original, a.original);
            QCOMPARE(b.modified, a.modified);
            QCOMPARE(b.changes, a.changes);
            QCOMPARE(b.baseVersion, a.baseVersion);
            QCOMPARE(b.updatedAt, a.updatedAt);
        }
    }
}

void tst_Compaction::randomOutboxesKeepTheVisibleState_data()
{
    QTest::addColumn<quint32>("seed");
    QTest::newRow("a thousand random outboxes from seed 1") << 1u;
    QTest::newRow("a thousand random outboxes from seed 2") << 2u;
    QTest::newRow("a thousand random outboxes from seed 3") << 3u;
    QTest::newRow("a thousand random outboxes from seed 20240101") << 20240101u;
}

void tst_Compaction::randomOutboxesKeepTheVisibleState()
{
    QFETCH(quint32, seed);

    QRandomGenerator random(seed);
    RunStats stats;
    for (int run = 0; run < 1000; ++run) {
        const Outbox outbox = randomOutbox(random, strategy());
        const Compaction::Plan plan = Compaction::plan(outbox.transactions);
        const QString problem = checkPlan(outbox, plan);
        QVERIFY2(problem.isEmpty(),
                 qPrintable(QStringLiteral("run %1: %2\n  outbox: %3\n  merges: %4\n  "
                                           "cancelled: %5")
                                    .arg(run)
                                    .arg(problem, describeOutbox(outbox.transactions),
                                         describeMerges(plan), plan.cancelled.join(u' '))));
        for (const Compaction::Merge &merge : plan.merges) {
            switch (merge.mutation.type) {
            case MutationType::Insert:
                ++stats.insertMerges;
                break;
            case MutationType::Update:
                ++stats.updateMerges;
                break;
            case MutationType::Remove:
                ++stats.removeMerges;
                break;
            }
        }
        stats.cancelled += int(plan.cancelled.size());
        for (const TransactionRecord &tx : outbox.transactions) {
            if (isActive(tx.state) && !Compaction::isCompactable(tx))
                ++stats.barriers;
        }
    }
    // The generator reaches every rule, so the checks above had something to check.
    const bool merges = strategy() == StrategyKind::Ordered;
    QCOMPARE(stats.insertMerges > 10, merges);
    QCOMPARE(stats.updateMerges > 10, merges);
    QCOMPARE(stats.removeMerges > 10, merges);
    QVERIFY(stats.cancelled > 10);
    QVERIFY(stats.barriers > 10);
}

void tst_Compaction::randomMixedOutboxesNeverMergeParallelTransactions_data()
{
    QTest::addColumn<quint32>("seed");
    QTest::newRow("a thousand random mixed outboxes from seed 7") << 7u;
    QTest::newRow("a thousand random mixed outboxes from seed 99") << 99u;
}

void tst_Compaction::randomMixedOutboxesNeverMergeParallelTransactions()
{
    QFETCH(quint32, seed);

    QRandomGenerator random(seed);
    int merges = 0;
    int cancelled = 0;
    for (int run = 0; run < 1000; ++run) {
        const Outbox outbox = randomOutbox(random, strategy(), true);
        const Compaction::Plan plan = Compaction::plan(outbox.transactions);
        // checkPlan refuses a merge with a parallel transaction on either side.
        const QString problem = checkPlan(outbox, plan);
        QVERIFY2(problem.isEmpty(),
                 qPrintable(QStringLiteral("run %1: %2\n  outbox: %3\n  merges: %4\n  "
                                           "cancelled: %5")
                                    .arg(run)
                                    .arg(problem, describeOutbox(outbox.transactions),
                                         describeMerges(plan), plan.cancelled.join(u' '))));
        merges += int(plan.merges.size());
        cancelled += int(plan.cancelled.size());
    }
    QVERIFY(merges > 10);
    QVERIFY(cancelled > 10);
}

QTEST_GUILESS_MAIN(tst_Compaction)
#include "tst_compaction.moc"
