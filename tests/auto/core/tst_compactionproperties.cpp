// SPDX-License-Identifier: BSD-3-Clause
// Synq::Compaction as properties of generated outboxes (issue 12): the plan is deterministic,
// sending it leaves every item as sending the whole outbox would (folded through the overlay
// and through a model server deciding each mutation with PushRules), every transaction has
// exactly one recorded outcome, and a compacted outbox compacts no further. PropertySeed:
// SYNQ_PROPERTY_SEED=<n> repeats a failure.

#include <synq/compaction.h>
#include <synq/overlay.h>
#include <synq/pushrules.h>

#include <QtCore/QHash>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QMap>
#include <QtCore/QRandomGenerator>
#include <QtCore/QSet>
#include <QtTest/QTest>

#include "propertyseed.h"

#include <optional>
#include <tuple>

using namespace Synq;

namespace {

using PropertySeed::differences;

using ItemId = std::tuple<QString, QString, QString>; // scope, collection, key

const QDateTime Epoch = QDateTime(QDate(2026, 1, 1), QTime(0, 0), Qt::UTC);

QString json(const std::optional<QJsonObject> &state)
{
    return state ? QString::fromUtf8(QJsonDocument(*state).toJson(QJsonDocument::Compact))
                 : QStringLiteral("(gone)");
}

QString itemName(const ItemId &item)
{
    const QString name = std::get<1>(item) + u'/' + std::get<2>(item);
    return std::get<0>(item).isEmpty() ? name : name + u'@' + std::get<0>(item);
}

ItemId itemOf(const TransactionRecord &tx, const MutationRecord &m)
{
    return ItemId(tx.scope, m.collection, m.key);
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

// How an item starts: what the client has synced, and what the server holds.
struct Start
{
    std::optional<QJsonObject> row; // the synced row, nullopt when not visible
    qint64 version = 0; // the synced version; 0 when never synced
    bool removedOnServer = false; // not visible: a tombstone on the server, else never written
    // Visible: another client changed it since (Changed) or removed it (Removed); the server
    // holds that at version + 1.
    enum Ahead { InStep, Changed, Removed } serverAhead = InStep;
};

struct Generated
{
    QList<TransactionRecord> outbox;
    QMap<ItemId, Start> start;
    // Every active transaction is one the engine can record: an insert of what is not
    // visible, an update or removal of what is (localcommit refuses the others).
    bool realistic = true;
};

enum class Mix { Ordered, Parallel, Mixed };

/*
    A random outbox of single-mutation transactions over a few items, recorded as the engine
    records them: each mutation's original and modified follow the item's visible state and
    its baseVersion is the synced version. Mostly the operations a user can make (an insert
    of what is not visible, an update or removal of what is), sometimes any; now and then
    attempted, Queued, Persisting, PersistedAwaitingSync, Completed or Failed.
*/
Generated randomOutbox(QRandomGenerator &random, Mix mix)
{
    static const QString fields[] = { QStringLiteral("title"), QStringLiteral("done"),
                                      QStringLiteral("n"), QStringLiteral("tags") };
    const auto value = [&]() -> QJsonValue {
        switch (random.bounded(5)) {
        case 0:
            return QJsonValue::Null;
        case 1:
            return random.bounded(2) == 1;
        case 2:
            return int(random.bounded(4));
        case 3:
            return QJsonArray { int(random.bounded(3)) };
        default:
            return QStringLiteral("v%1").arg(random.bounded(4));
        }
    };
    const auto object = [&](int minFields) {
        QJsonObject o;
        const int count = minFields + int(random.bounded(3));
        for (int f = 0; f < count; ++f)
            o.insert(fields[random.bounded(4)], value());
        return o;
    };

    Generated g;
    const QString collections[] = { QStringLiteral("todos"), QStringLiteral("notes") };
    const QString keys[] = { QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c") };
    QList<ItemId> items;
    const int itemCount = 1 + int(random.bounded(4));
    for (int i = 0; i < itemCount; ++i) {
        const ItemId item(random.bounded(8) == 0 ? QStringLiteral("s2") : QString(),
                          collections[random.bounded(2)], keys[random.bounded(3)]);
        if (g.start.contains(item))
            continue;
        Start start;
        if (random.bounded(2) == 0) {
            start.row = object(1);
            start.version = 1 + random.bounded(9);
            if (random.bounded(4) == 0)
                start.serverAhead = random.bounded(2) ? Start::Changed : Start::Removed;
        } else {
            start.removedOnServer = random.bounded(3) == 0;
        }
        g.start.insert(item, start);
        items.append(item);
    }

    QMap<ItemId, std::optional<QJsonObject>> visible;
    for (auto it = g.start.cbegin(); it != g.start.cend(); ++it)
        visible.insert(it.key(), it.value().row);

    // Half of the outboxes hold only what the engine records, the others some of anything.
    const int anyOperation = random.bounded(2) == 0 ? 0 : 15;
    const int length = 1 + int(random.bounded(16));
    for (int n = 1; n <= length; ++n) {
        const ItemId item = items.at(random.bounded(quint32(items.size())));
        TransactionRecord tx;
        tx.id = QStringLiteral("t%1").arg(n);
        tx.scope = std::get<0>(item);
        tx.strategy = mix == Mix::Ordered ? StrategyKind::Ordered
                : mix == Mix::Parallel    ? StrategyKind::Parallel
                                          : StrategyKind(random.bounded(2));
        tx.createdAt = Epoch.addSecs(60 * n);
        tx.updatedAt = tx.createdAt.addSecs(1);
        const int kind = int(random.bounded(100));
        if (kind < 8) {
            tx.currentAttempt = 1; // being sent
        } else if (kind < 14) {
            AttemptRecord attempt; // sent before, waiting for its retry
            attempt.id = QStringLiteral("a%1").arg(n);
            attempt.startedAt = tx.updatedAt;
            attempt.completedAt = tx.updatedAt;
            tx.attempts.append(attempt);
        } else if (kind < 19) {
            tx.state = TransactionState::Queued;
        } else if (kind < 22) {
            tx.state = TransactionState::Persisting;
        } else if (kind < 24) {
            tx.state = TransactionState::PersistedAwaitingSync;
        } else if (kind < 27) {
            tx.state = TransactionState::Completed;
        } else if (kind < 30) {
            tx.state = TransactionState::Failed;
        }

        const std::optional<QJsonObject> current = visible.value(item);
        MutationRecord m;
        m.id = QStringLiteral("m%1").arg(n);
        m.transactionId = tx.id;
        m.collection = std::get<1>(item);
        m.key = std::get<2>(item);
        if (int(random.bounded(100)) >= anyOperation) {
            m.type = !current
                    ? MutationType::Insert
                    : (random.bounded(3) < 2 ? MutationType::Update : MutationType::Remove);
        } else {
            m.type = MutationType(random.bounded(3));
        }
        if (isActive(tx.state) && current.has_value() == (m.type == MutationType::Insert))
            g.realistic = false;
        m.baseVersion = g.start.value(item).version;
        m.metadata = QStringLiteral("meta-%1").arg(n);
        m.createdAt = tx.createdAt;
        m.updatedAt = tx.updatedAt;
        if (m.type == MutationType::Insert) {
            m.modified = object(0);
            m.changes = m.modified;
        } else {
            m.original = current.value_or(QJsonObject());
            if (m.type == MutationType::Update)
                m.changes = object(1);
        }
        const std::optional<QJsonObject> after = Overlay::apply(current, m);
        if (after && m.type != MutationType::Insert)
            m.modified = *after;
        if (isActive(tx.state))
            visible.insert(item, after);
        tx.mutations.append(m);
        g.outbox.append(tx);
    }
    return g;
}

QString describeOutbox(const QList<TransactionRecord> &outbox)
{
    QStringList out;
    for (const TransactionRecord &tx : outbox) {
        QString token = tx.id + u':';
        for (const MutationRecord &m : tx.mutations) {
            token += QStringLiteral("%1:%2/%3").arg(letterOf(m.type)).arg(m.collection, m.key);
            if (!tx.scope.isEmpty())
                token += u'@' + tx.scope;
            token += QStringLiteral("#v%1").arg(m.baseVersion);
            if (m.type != MutationType::Remove)
                token += json(m.type == MutationType::Insert ? m.modified : m.changes);
        }
        if (tx.strategy == StrategyKind::Parallel)
            token += QStringLiteral("#parallel");
        if (tx.state != TransactionState::Pending)
            token += u'#' + nameOf(tx.state);
        if (tx.currentAttempt != 0 || !tx.attempts.isEmpty())
            token += QStringLiteral("#attempted");
        out.append(token);
    }
    return out.join(u' ');
}

QString describeStart(const QMap<ItemId, Start> &start)
{
    QStringList out;
    for (auto it = start.cbegin(); it != start.cend(); ++it) {
        const Start &s = it.value();
        QString text = s.row
                ? QStringLiteral("v%1%2").arg(s.version).arg(json(s.row))
                : (s.removedOnServer ? QStringLiteral("removed") : QStringLiteral("missing"));
        if (s.serverAhead == Start::Changed)
            text += QStringLiteral(" (changed on the server)");
        else if (s.serverAhead == Start::Removed)
            text += QStringLiteral(" (removed on the server)");
        out.append(itemName(it.key()) + u'=' + text);
    }
    return out.join(u' ');
}

QString describePlan(const Compaction::Plan &plan)
{
    QStringList merges;
    for (const Compaction::Merge &merge : plan.merges) {
        const MutationRecord &m = merge.mutation;
        merges.append(QStringLiteral("%1:%2<%3 %4 %5 v%6 %7")
                              .arg(merge.survivor, letterOf(m.type), merge.absorbed.join(u','),
                                   json(m.original), json(m.modified))
                              .arg(m.baseVersion)
                              .arg(json(m.changes)));
    }
    return QStringLiteral("merges [%1] cancelled [%2]")
            .arg(merges.join(QStringLiteral("; ")), plan.cancelled.join(u' '));
}

// The outbox as it is sent after the plan: survivors carry their merged mutations, absorbed
// and cancelled transactions are left out.
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

// What the user sees of every item once the outbox's active transactions are applied over
// the synced rows (the optimistic overlay).
QMap<ItemId, std::optional<QJsonObject>> visibleStates(const QList<TransactionRecord> &outbox,
                                                       const QMap<ItemId, Start> &start)
{
    QMap<ItemId, QList<MutationRecord>> pending;
    for (auto it = start.cbegin(); it != start.cend(); ++it)
        pending.insert(it.key(), {});
    for (const TransactionRecord &tx : outbox) {
        if (!isActive(tx.state))
            continue;
        for (const MutationRecord &m : tx.mutations)
            pending[itemOf(tx, m)].append(m);
    }
    QMap<ItemId, std::optional<QJsonObject>> out;
    for (auto it = pending.cbegin(); it != pending.cend(); ++it)
        out.insert(it.key(), Overlay::visibleState(start.value(it.key()).row, it.value()));
    return out;
}

struct Pushed
{
    QMap<ItemId, std::optional<QJsonObject>> records; // the server's, nullopt when not live
    QSet<QString> conflicted; // itemName() of the items a mutation conflicted on
};

/*
    The outbox's active transactions pushed in commit order to a model server that decides
    every mutation as synq-server does (PushRules): checked against its base version or the
    version an earlier mutation of the push produced, applied or refused, a refused
    transaction rolled back whole. An insert sends its record, an update its changes.
*/
Pushed push(const QList<TransactionRecord> &outbox, const QMap<ItemId, Start> &start)
{
    QMap<ItemId, PushRules::RecordState> server;
    for (auto it = start.cbegin(); it != start.cend(); ++it) {
        const Start &s = it.value();
        PushRules::RecordState state;
        if (s.row && s.serverAhead == Start::Changed) {
            state = PushRules::RecordState::live(
                    s.version + 1,
                    PushRules::applyChanges(*s.row,
                                            { { QStringLiteral("by"), QStringLiteral("other") } }));
        } else if (s.row && s.serverAhead == Start::Removed) {
            state = PushRules::RecordState::removed(s.version + 1);
        } else if (s.row) {
            state = PushRules::RecordState::live(s.version, *s.row);
        } else if (s.removedOnServer) {
            state = PushRules::RecordState::removed(s.version + 1);
        }
        server.insert(it.key(), state);
    }
    QHash<QString, PushRules::Batch> batches; // one push per scope
    qint64 clock = 100;
    Pushed pushed;
    for (const TransactionRecord &tx : outbox) {
        if (!isActive(tx.state))
            continue;
        PushRules::Batch &batch = batches[tx.scope];
        QMap<ItemId, PushRules::RecordState> written = server;
        bool conflict = false;
        for (const MutationRecord &m : tx.mutations) {
            const ItemId item = itemOf(tx, m);
            const PushRules::RecordState current = written.value(item);
            const std::optional<qint64> expected =
                    batch.expectedVersion(m.collection, m.key, m.baseVersion);
            if (PushRules::verdict(m.type, current, expected) == PushRules::Verdict::Conflict) {
                pushed.conflicted.insert(itemName(item));
                conflict = true;
                break;
            }
            const qint64 version = ++clock;
            const std::optional<QJsonObject> record = PushRules::written(
                    m.type, current, m.type == MutationType::Insert ? m.modified : m.changes);
            written.insert(item,
                           record ? PushRules::RecordState::live(version, *record)
                                  : PushRules::RecordState::removed(version));
            batch.noteApplied(m.collection, m.key, m.key, version);
        }
        if (conflict) {
            batch.undo();
        } else {
            batch.keep();
            server = written;
        }
    }
    for (auto it = server.cbegin(); it != server.cend(); ++it) {
        pushed.records.insert(it.key(),
                              it.value().isLive() ? std::optional<QJsonObject>(it.value().data)
                                                  : std::nullopt);
    }
    return pushed;
}

QString differences(const Compaction::Plan &a, const Compaction::Plan &b)
{
    if (a.cancelled != b.cancelled)
        return QStringLiteral("cancelled %1 / %2")
                .arg(a.cancelled.join(u' '), b.cancelled.join(u' '));
    if (a.merges.size() != b.merges.size())
        return QStringLiteral("%1 / %2 merges").arg(a.merges.size()).arg(b.merges.size());
    for (qsizetype i = 0; i < a.merges.size(); ++i) {
        const Compaction::Merge &x = a.merges.at(i), &y = b.merges.at(i);
        if (x.survivor != y.survivor || x.absorbed != y.absorbed)
            return QStringLiteral("merge %1: %2<%3 / %4<%5")
                    .arg(i)
                    .arg(x.survivor, x.absorbed.join(u','), y.survivor, y.absorbed.join(u','));
        if (const QString d = differences(x.mutation, y.mutation); !d.isEmpty())
            return QStringLiteral("merge %1: the mutation's %2").arg(i).arg(d);
    }
    return QString();
}

enum class Outcome { None, Sent, Survivor, Absorbed, Cancelled };

// compaction.h: Pending or Queued, one mutation, never attempted. (Written out here, so that
// the checks below do not lean on the function they check.)
bool compactable(const TransactionRecord &tx)
{
    return (tx.state == TransactionState::Pending || tx.state == TransactionState::Queued)
            && tx.mutations.size() == 1 && tx.currentAttempt == 0 && tx.attempts.isEmpty();
}

/*
    Every active transaction has exactly one recorded outcome — sent as it is, carrying a
    merge, absorbed into one, or cancelled — and an inactive one none; only compactable
    transactions are rewritten or dropped; an absorbed change travels in a survivor of its own
    item, earlier and Ordered like itself. Returns what is wrong.
*/
QString checkOutcomes(const QList<TransactionRecord> &outbox, const Compaction::Plan &plan)
{
    QHash<QString, qsizetype> indexOf;
    for (qsizetype i = 0; i < outbox.size(); ++i)
        indexOf.insert(outbox.at(i).id, i);
    QHash<QString, Outcome> outcome;
    const auto record = [&](const QString &id, Outcome o) -> QString {
        if (!indexOf.contains(id))
            return QStringLiteral("the plan names %1, which is not in the outbox").arg(id);
        if (outcome.contains(id))
            return QStringLiteral("%1 has two outcomes in the plan").arg(id);
        if (!compactable(outbox.at(indexOf.value(id))))
            return QStringLiteral("%1 is not compactable but the plan rewrites or drops it")
                    .arg(id);
        outcome.insert(id, o);
        return QString();
    };
    // Both lists in commit order.
    for (qsizetype i = 1; i < plan.merges.size(); ++i) {
        if (indexOf.value(plan.merges.at(i - 1).survivor)
            >= indexOf.value(plan.merges.at(i).survivor))
            return QStringLiteral("merges are not in commit order at %1")
                    .arg(plan.merges.at(i).survivor);
    }
    for (qsizetype i = 1; i < plan.cancelled.size(); ++i) {
        if (indexOf.value(plan.cancelled.at(i - 1)) >= indexOf.value(plan.cancelled.at(i)))
            return QStringLiteral("cancellations are not in commit order at %1")
                    .arg(plan.cancelled.at(i));
    }
    for (const Compaction::Merge &merge : plan.merges) {
        if (QString error = record(merge.survivor, Outcome::Survivor); !error.isEmpty())
            return error;
        if (merge.absorbed.isEmpty())
            return QStringLiteral("%1 is reported as a merge but absorbs nothing")
                    .arg(merge.survivor);
        const TransactionRecord &survivor = outbox.at(indexOf.value(merge.survivor));
        const MutationRecord &own = survivor.mutations.constFirst();
        if (survivor.strategy != StrategyKind::Ordered)
            return QStringLiteral("the parallel %1 absorbs others").arg(survivor.id);
        if (merge.mutation.id != own.id || merge.mutation.transactionId != survivor.id
            || merge.mutation.collection != own.collection || merge.mutation.key != own.key)
            return QStringLiteral("%1 carries a mutation that is not its own").arg(survivor.id);
        qsizetype previous = indexOf.value(merge.survivor);
        for (const QString &id : merge.absorbed) {
            if (QString error = record(id, Outcome::Absorbed); !error.isEmpty())
                return error;
            const TransactionRecord &tx = outbox.at(indexOf.value(id));
            if (indexOf.value(id) <= previous)
                return QStringLiteral("%1 absorbs %2 out of commit order").arg(survivor.id, id);
            previous = indexOf.value(id);
            if (itemOf(tx, tx.mutations.constFirst()) != itemOf(survivor, own))
                return QStringLiteral("%1 absorbs %2 of another item").arg(survivor.id, id);
            if (tx.strategy != StrategyKind::Ordered)
                return QStringLiteral("%1 absorbs the parallel %2").arg(survivor.id, id);
        }
    }
    for (const QString &id : plan.cancelled) {
        if (QString error = record(id, Outcome::Cancelled); !error.isEmpty())
            return error;
    }
    for (const TransactionRecord &tx : outbox) {
        if (!isActive(tx.state)) {
            if (outcome.contains(tx.id))
                return QStringLiteral("%1 is %2 but in the plan").arg(tx.id, nameOf(tx.state));
            continue;
        }
        if (!outcome.contains(tx.id))
            outcome.insert(tx.id, Outcome::Sent);
    }

    // Sent ones go as they are, survivors with their merged mutation; the rest not at all.
    const QList<TransactionRecord> compacted = applyPlan(outbox, plan);
    QHash<QString, const TransactionRecord *> sent;
    for (const TransactionRecord &tx : compacted)
        sent.insert(tx.id, &tx);
    for (const TransactionRecord &tx : outbox) {
        switch (outcome.value(tx.id, Outcome::None)) {
        case Outcome::None:
        case Outcome::Sent:
            if (!sent.contains(tx.id))
                return QStringLiteral("%1 vanished from the outbox").arg(tx.id);
            if (sent.value(tx.id)->mutations.size() != tx.mutations.size())
                return QStringLiteral("%1 is sent with other mutations").arg(tx.id);
            for (qsizetype j = 0; j < tx.mutations.size(); ++j) {
                if (const QString d =
                            differences(sent.value(tx.id)->mutations.at(j), tx.mutations.at(j));
                    !d.isEmpty()) {
                    return QStringLiteral("%1 is sent rewritten (%2)").arg(tx.id, d);
                }
            }
            break;
        case Outcome::Survivor:
            if (!sent.contains(tx.id))
                return QStringLiteral("the survivor %1 is not sent").arg(tx.id);
            break;
        case Outcome::Absorbed:
        case Outcome::Cancelled:
            if (sent.contains(tx.id))
                return QStringLiteral("%1 is dropped by the plan but still sent").arg(tx.id);
            break;
        }
    }
    return QString();
}

/*
    No field a change sets is lost in its merge: a merged update's changes hold every field of
    the survivor's and the absorbed updates' changes with the latest value, and its modified
    is the last one's; a merged insert's record holds the insert's fields and then every
    absorbed update's, and its changes are that record; a merge ending in a removal is a
    removal. Original and baseVersion stay the survivor's. Returns what is wrong.
*/
QString checkMergedFields(const QList<TransactionRecord> &outbox, const Compaction::Plan &plan)
{
    QHash<QString, const MutationRecord *> byTransaction;
    for (const TransactionRecord &tx : outbox) {
        if (!tx.mutations.isEmpty())
            byTransaction.insert(tx.id, &tx.mutations.constFirst());
    }
    for (const Compaction::Merge &merge : plan.merges) {
        const MutationRecord &merged = merge.mutation;
        const MutationRecord &own = *byTransaction.value(merge.survivor);
        if (merged.original != own.original || merged.baseVersion != own.baseVersion)
            return QStringLiteral("%1 changed its original or base version").arg(merge.survivor);
        if (merged.metadata != own.metadata || merged.createdAt != own.createdAt
            || merged.state != own.state || merged.sequence != own.sequence)
            return QStringLiteral("%1 lost its metadata, state, place or creation time")
                    .arg(merge.survivor);
        const MutationRecord &last = *byTransaction.value(merge.absorbed.constLast());
        if (merged.updatedAt != last.updatedAt)
            return QStringLiteral("%1's updatedAt is not the last absorbed one's")
                    .arg(merge.survivor);
        QJsonObject expected = own.type == MutationType::Insert ? own.modified : own.changes;
        bool removed = false;
        for (const QString &id : merge.absorbed) {
            const MutationRecord &m = *byTransaction.value(id);
            if (m.type == MutationType::Remove)
                removed = true;
            else
                expected = PushRules::applyChanges(expected, m.changes);
        }
        if (removed) {
            if (merged.type != MutationType::Remove || !merged.changes.isEmpty()
                || !merged.modified.isEmpty())
                return QStringLiteral("%1 absorbs a removal but is not a removal")
                        .arg(merge.survivor);
            continue;
        }
        if (merged.type != own.type)
            return QStringLiteral("%1 changed its type without a removal").arg(merge.survivor);
        if (merged.changes != expected)
            return QStringLiteral("%1 carries changes %2, expected %3")
                    .arg(merge.survivor, json(merged.changes), json(expected));
        if (merged.type == MutationType::Insert && merged.modified != expected)
            return QStringLiteral("%1 inserts %2, expected %3")
                    .arg(merge.survivor, json(merged.modified), json(expected));
        if (merged.type == MutationType::Update && merged.modified != last.modified)
            return QStringLiteral("%1's modified is %2, not the last update's %3")
                    .arg(merge.survivor, json(merged.modified), json(last.modified));
    }
    return QString();
}

} // namespace

Q_DECLARE_METATYPE(Mix)

class tst_CompactionProperties : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void generatedOutboxes_data();
    void generatedOutboxes();
    void generatorReachesEveryRule();
};

void tst_CompactionProperties::generatedOutboxes_data()
{
    QTest::addColumn<quint32>("seed");
    QTest::addColumn<Mix>("mix");
    QTest::newRow("500 ordered outboxes from seed 11") << 11u << Mix::Ordered;
    QTest::newRow("500 parallel outboxes from seed 12") << 12u << Mix::Parallel;
    QTest::newRow("500 mixed outboxes from seed 13") << 13u << Mix::Mixed;
    QTest::newRow("500 mixed outboxes from seed 20261205") << 20261205u << Mix::Mixed;
}

void tst_CompactionProperties::generatedOutboxes()
{
    QFETCH(quint32, seed);
    QFETCH(Mix, mix);
    seed = PropertySeed::seed(seed);

    for (int i = 0; i < PropertySeed::Cases; ++i) {
        QRandomGenerator random = PropertySeed::generator(seed, i);
        const Generated g = randomOutbox(random, mix);
        const Compaction::Plan plan = Compaction::plan(g.outbox);
        const auto context = [&](const QString &what) {
            return QStringLiteral("%1: %2\n  start: %3\n  outbox: %4\n  plan: %5")
                    .arg(PropertySeed::context(seed, i), what, describeStart(g.start),
                         describeOutbox(g.outbox), describePlan(plan));
        };

        // Deterministic: the same outbox, planned again or as a copy, gives the same plan.
        const QList<TransactionRecord> copy = g.outbox;
        for (const Compaction::Plan &again :
             { Compaction::plan(g.outbox), Compaction::plan(copy) }) {
            const QString d = differences(plan, again);
            QVERIFY2(d.isEmpty(), qPrintable(context(QStringLiteral("planned again: ") + d)));
        }

        // Completed and failed transactions are ignored entirely, and each item is planned on
        // its own: the plan of the active transactions, and of each item's, is the same.
        QList<TransactionRecord> active;
        QMap<ItemId, QList<TransactionRecord>> byItem;
        QHash<QString, ItemId> itemOfTransaction;
        for (const TransactionRecord &tx : g.outbox) {
            const ItemId item = itemOf(tx, tx.mutations.constFirst());
            itemOfTransaction.insert(tx.id, item);
            if (isActive(tx.state)) {
                active.append(tx);
                byItem[item].append(tx);
            }
        }
        {
            const QString d = differences(plan, Compaction::plan(active));
            QVERIFY2(d.isEmpty(),
                     qPrintable(context(QStringLiteral("without the completed and "
                                                       "failed ones: ")
                                        + d)));
        }
        for (auto it = byItem.cbegin(); it != byItem.cend(); ++it) {
            Compaction::Plan own;
            for (const Compaction::Merge &merge : plan.merges) {
                if (itemOfTransaction.value(merge.survivor) == it.key())
                    own.merges.append(merge);
            }
            for (const QString &id : plan.cancelled) {
                if (itemOfTransaction.value(id) == it.key())
                    own.cancelled.append(id);
            }
            const QString d = differences(own, Compaction::plan(it.value()));
            QVERIFY2(d.isEmpty(),
                     qPrintable(context(
                             QStringLiteral("%1 planned alone: %2").arg(itemName(it.key()), d))));
        }

        // No local change is lost without a recorded outcome.
        QString problem = checkOutcomes(g.outbox, plan);
        QVERIFY2(problem.isEmpty(), qPrintable(context(problem)));
        problem = checkMergedFields(g.outbox, plan);
        QVERIFY2(problem.isEmpty(), qPrintable(context(problem)));

        // Sending the plan leaves every item as sending the whole outbox: as the user sees it
        // and as the server stores it.
        const QList<TransactionRecord> compacted = applyPlan(g.outbox, plan);
        const auto expectedVisible = visibleStates(g.outbox, g.start);
        const auto visible = visibleStates(compacted, g.start);
        for (auto it = expectedVisible.cbegin(); it != expectedVisible.cend(); ++it) {
            QVERIFY2(visible.value(it.key()) == it.value(),
                     qPrintable(
                             context(QStringLiteral("%1 shows %2 after the plan, %3 after "
                                                    "the whole outbox")
                                             .arg(itemName(it.key()), json(visible.value(it.key())),
                                                  json(it.value())))));
        }
        // On the server, for what the engine records (an outbox that inserts what it shows
        // already conflicts where its merge would not): the same records, and no conflict
        // made up. (One may go: an update of a row deleted meanwhile conflicts on its own,
        // not once merged into the removal that follows it — the removal is what stands.)
        if (g.realistic) {
            const Pushed expectedServer = push(g.outbox, g.start);
            const Pushed server = push(compacted, g.start);
            for (auto it = expectedServer.records.cbegin(); it != expectedServer.records.cend();
                 ++it) {
                QVERIFY2(server.records.value(it.key()) == it.value(),
                         qPrintable(context(QStringLiteral("the server holds %1 for %2 after "
                                                           "the plan, %3 after the whole outbox")
                                                    .arg(json(server.records.value(it.key())),
                                                         itemName(it.key()), json(it.value())))));
            }
            for (const QString &item : server.conflicted) {
                QVERIFY2(expectedServer.conflicted.contains(item),
                         qPrintable(context(
                                 QStringLiteral("%1 conflicts only after the plan").arg(item))));
            }
        }

        // Idempotent: the compacted outbox compacts no further.
        const Compaction::Plan again = Compaction::plan(compacted);
        QVERIFY2(again.isEmpty(),
                 qPrintable(context(QStringLiteral("the compacted outbox compacts again: ")
                                    + describePlan(again))));
    }
}

void tst_CompactionProperties::generatorReachesEveryRule()
{
    // The properties above check something only if the outboxes meet every rule: merges of
    // each kind, cancellations, barriers, inactive transactions and conflicts on the server.
    const quint32 seed = PropertySeed::seed(13);
    int merges[3] = {};
    int cancelled = 0, barriers = 0, inactive = 0, conflicts = 0, sentAsIs = 0, realistic = 0;
    for (int i = 0; i < PropertySeed::Cases; ++i) {
        QRandomGenerator random = PropertySeed::generator(seed, i);
        const Generated g = randomOutbox(random, Mix::Mixed);
        const Compaction::Plan plan = Compaction::plan(g.outbox);
        for (const Compaction::Merge &merge : plan.merges)
            ++merges[int(merge.mutation.type)];
        cancelled += int(plan.cancelled.size());
        for (const TransactionRecord &tx : g.outbox) {
            if (!isActive(tx.state))
                ++inactive;
            else if (!compactable(tx))
                ++barriers;
        }
        sentAsIs += int(applyPlan(g.outbox, plan).size() - plan.merges.size());
        if (g.realistic) {
            ++realistic;
            conflicts += int(push(g.outbox, g.start).conflicted.size());
        }
    }
    const QString counts = QStringLiteral("insert merges %1, update merges %2, remove merges %3, "
                                          "cancelled %4, barriers %5, inactive %6, conflicts %7, "
                                          "sent as they are %8, realistic %9")
                                   .arg(merges[0])
                                   .arg(merges[1])
                                   .arg(merges[2])
                                   .arg(cancelled)
                                   .arg(barriers)
                                   .arg(inactive)
                                   .arg(conflicts)
                                   .arg(sentAsIs)
                                   .arg(realistic);
    const int enough = PropertySeed::Cases / 25;
    for (int n : { merges[0], merges[1], merges[2], cancelled, barriers, inactive, conflicts,
                   sentAsIs, realistic }) {
        QVERIFY2(n > enough, qPrintable(counts));
    }
}

QTEST_GUILESS_MAIN(tst_CompactionProperties)
#include "tst_compactionproperties.moc"
