// SPDX-License-Identifier: BSD-3-Clause
#include <synq/records.h>

#include <QtCore/QJsonArray>
#include <QtCore/QSet>
#include <QtTest/QTest>

using namespace Synq;

Q_DECLARE_METATYPE(Synq::TransactionState)
Q_DECLARE_METATYPE(Synq::MutationType)
Q_DECLARE_METATYPE(Synq::MutationState)

namespace {

QVariantMap mapInOrder(const QStringList &keys)
{
    QVariantMap map;
    for (const QString &key : keys)
        map.insert(key, key.size());
    return map;
}

QVariantHash hashInOrder(const QStringList &keys)
{
    QVariantHash hash;
    for (const QString &key : keys)
        hash.insert(key, QVariantList{ key, key.size() });
    return hash;
}

} // namespace

class tst_Records : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void transactionStateToString_data();
    void transactionStateToString();
    void mutationTypeToString_data();
    void mutationTypeToString();
    void mutationStateToString_data();
    void mutationStateToString();
    void storedEnumValuesAreStable();
    void scopeId_data();
    void scopeId();
    void scopeIdIgnoresInsertionOrder_data();
    void scopeIdIgnoresInsertionOrder();
    void scopeIdTellsScopesApart_data();
    void scopeIdTellsScopesApart();
    void collectionsAndKeys_data();
    void collectionsAndKeys();
    void defaults();
    void mutationToVariantMap_data();
    void mutationToVariantMap();
    void attemptToVariantMap();
};

void tst_Records::transactionStateToString_data()
{
    QTest::addColumn<TransactionState>("state");
    QTest::addColumn<QString>("name");
    QTest::addColumn<bool>("active");

    QTest::newRow("Queued is active") << TransactionState::Queued << QStringLiteral("Queued") << true;
    QTest::newRow("Pending is active")
            << TransactionState::Pending << QStringLiteral("Pending") << true;
    QTest::newRow("Persisting is active")
            << TransactionState::Persisting << QStringLiteral("Persisting") << true;
    QTest::newRow("PersistedAwaitingSync is active")
            << TransactionState::PersistedAwaitingSync << QStringLiteral("PersistedAwaitingSync")
            << true;
    QTest::newRow("Completed is finished")
            << TransactionState::Completed << QStringLiteral("Completed") << false;
    QTest::newRow("Failed is finished")
            << TransactionState::Failed << QStringLiteral("Failed") << false;
    QTest::newRow("an unknown state has no name")
            << TransactionState(42) << QString() << true;
}

void tst_Records::transactionStateToString()
{
    QFETCH(TransactionState, state);
    QFETCH(QString, name);
    QFETCH(bool, active);

    QCOMPARE(Synq::nameOf(state), name);
    QCOMPARE(Synq::isActive(state), active);
}

void tst_Records::mutationTypeToString_data()
{
    QTest::addColumn<MutationType>("type");
    QTest::addColumn<QString>("name");

    QTest::newRow("an insert is called insert") << MutationType::Insert << QStringLiteral("insert");
    QTest::newRow("an update is called update") << MutationType::Update << QStringLiteral("update");
    QTest::newRow("a remove is called remove") << MutationType::Remove << QStringLiteral("remove");
    QTest::newRow("an unknown type has no name") << MutationType(7) << QString();
}

void tst_Records::mutationTypeToString()
{
    QFETCH(MutationType, type);
    QFETCH(QString, name);

    QCOMPARE(Synq::nameOf(type), name);
}

void tst_Records::mutationStateToString_data()
{
    QTest::addColumn<MutationState>("state");
    QTest::addColumn<QString>("name");

    QTest::newRow("a created mutation is called created")
            << MutationState::Created << QStringLiteral("created");
    QTest::newRow("a persisting mutation is called persisting")
            << MutationState::Persisting << QStringLiteral("persisting");
    QTest::newRow("a synced mutation is called synced")
            << MutationState::Synced << QStringLiteral("synced");
    QTest::newRow("an unknown state has no name") << MutationState(-1) << QString();
}

void tst_Records::mutationStateToString()
{
    QFETCH(MutationState, state);
    QFETCH(QString, name);

    QCOMPARE(Synq::nameOf(state), name);
}

void tst_Records::storedEnumValuesAreStable()
{
    // These numbers are written to the database: changing one corrupts existing outboxes.
    QCOMPARE(int(TransactionState::Queued), 0);
    QCOMPARE(int(TransactionState::Pending), 1);
    QCOMPARE(int(TransactionState::Persisting), 2);
    QCOMPARE(int(TransactionState::PersistedAwaitingSync), 3);
    QCOMPARE(int(TransactionState::Completed), 4);
    QCOMPARE(int(TransactionState::Failed), 5);
    QCOMPARE(int(MutationType::Insert), 0);
    QCOMPARE(int(MutationType::Update), 1);
    QCOMPARE(int(MutationType::Remove), 2);
    QCOMPARE(int(MutationState::Created), 0);
    QCOMPARE(int(MutationState::Persisting), 1);
    QCOMPARE(int(MutationState::Synced), 2);
    QCOMPARE(int(StrategyKind::Ordered), 0);
    QCOMPARE(int(StrategyKind::Parallel), 1);
    QCOMPARE(int(ItemSyncState::Synced), 0);
    QCOMPARE(int(ItemSyncState::Pending), 1);
    QCOMPARE(int(ItemSyncState::Syncing), 2);
    QCOMPARE(int(ItemSyncState::Failed), 3);
    QCOMPARE(int(ItemSyncState::Conflict), 4);
}

void tst_Records::scopeId_data()
{
    QTest::addColumn<QVariantMap>("scope");
    QTest::addColumn<QString>("expected");

    QTest::newRow("no scope has the empty id") << QVariantMap() << QString();
    QTest::newRow("a numeric user id") << QVariantMap{ { QStringLiteral("userId"), 42 } }
                                       << QStringLiteral(R"({"userId":42})");
    QTest::newRow("a string user id")
            << QVariantMap{ { QStringLiteral("userId"), QStringLiteral("u-1") } }
            << QStringLiteral(R"({"userId":"u-1"})");
    QTest::newRow("several fields come out sorted and compact")
            << QVariantMap{ { QStringLiteral("team"), QStringLiteral("b") },
                            { QStringLiteral("org"), 7 },
                            { QStringLiteral("archived"), false } }
            << QStringLiteral(R"({"archived":false,"org":7,"team":"b"})");
    QTest::newRow("a null field is kept, so the scope is not empty")
            << QVariantMap{ { QStringLiteral("userId"), QVariant() } }
            << QStringLiteral(R"({"userId":null})");
    QTest::newRow("nested maps and lists are sorted inside too")
            << QVariantMap{ { QStringLiteral("filter"),
                              QVariantMap{ { QStringLiteral("z"), QVariantList{ 2, 1 } },
                                           { QStringLiteral("a"), true } } } }
            << QStringLiteral(R"({"filter":{"a":true,"z":[2,1]}})");
    QTest::newRow("a nested hash is sorted")
            << QVariantMap{ { QStringLiteral("h"),
                              QVariantHash{ { QStringLiteral("y"), 1 },
                                            { QStringLiteral("x"), 2 } } } }
            << QStringLiteral(R"({"h":{"x":2,"y":1}})");
    QTest::newRow("a date becomes its ISO form")
            << QVariantMap{ { QStringLiteral("day"), QDate(2024, 5, 6) } }
            << QStringLiteral(R"({"day":"2024-05-06"})");
    QTest::newRow("non-ASCII text survives")
            << QVariantMap{ { QStringLiteral(u"björk"), QStringLiteral(u"日本") } }
            << QStringLiteral(u"{\"björk\":\"日本\"}");
    QTest::newRow("quotes in values are escaped")
            << QVariantMap{ { QStringLiteral("q"), QStringLiteral("a\"b") } }
            << QStringLiteral(R"({"q":"a\"b"})");
}

void tst_Records::scopeId()
{
    QFETCH(QVariantMap, scope);
    QFETCH(QString, expected);

    QCOMPARE(Synq::scopeId(scope), expected);
    QCOMPARE(Synq::scopeId(scope).isEmpty(), scope.isEmpty());
}

void tst_Records::scopeIdIgnoresInsertionOrder_data()
{
    QTest::addColumn<QStringList>("first");
    QTest::addColumn<QStringList>("second");

    QTest::newRow("two fields in either order have one id")
            << QStringList{ QStringLiteral("org"), QStringLiteral("user") }
            << QStringList{ QStringLiteral("user"), QStringLiteral("org") };
    QTest::newRow("many fields in shuffled order have one id")
            << QStringList{ QStringLiteral("e"), QStringLiteral("a"), QStringLiteral("d"),
                            QStringLiteral("b"), QStringLiteral("c"), QStringLiteral("F") }
            << QStringList{ QStringLiteral("c"), QStringLiteral("F"), QStringLiteral("a"),
                            QStringLiteral("e"), QStringLiteral("b"), QStringLiteral("d") };
    QTest::newRow("non-ASCII field names in either order have one id")
            << QStringList{ QStringLiteral(u"ä"), QStringLiteral(u"😀"), QStringLiteral("z") }
            << QStringList{ QStringLiteral(u"😀"), QStringLiteral("z"), QStringLiteral(u"ä") };
}

void tst_Records::scopeIdIgnoresInsertionOrder()
{
    QFETCH(QStringList, first);
    QFETCH(QStringList, second);

    const QString a = Synq::scopeId(mapInOrder(first));
    const QString b = Synq::scopeId(mapInOrder(second));
    QVERIFY(!a.isEmpty());
    QCOMPARE(a, b);

    // Hashes, whose iteration order depends on insertion history, nested one level down.
    const QString nestedA = Synq::scopeId({ { QStringLiteral("h"), hashInOrder(first) } });
    const QString nestedB = Synq::scopeId({ { QStringLiteral("h"), hashInOrder(second) } });
    QVERIFY(!nestedA.isEmpty());
    QCOMPARE(nestedA, nestedB);
}

void tst_Records::scopeIdTellsScopesApart_data()
{
    QTest::addColumn<QVariantMap>("a");
    QTest::addColumn<QVariantMap>("b");
    QTest::addColumn<bool>("same");

    const QString user = QStringLiteral("user");
    QTest::newRow("a number and its digits as a string are different scopes")
            << QVariantMap{ { user, 1 } } << QVariantMap{ { user, QStringLiteral("1") } } << false;
    QTest::newRow("different user ids are different scopes")
            << QVariantMap{ { user, 1 } } << QVariantMap{ { user, 2 } } << false;
    QTest::newRow("an extra field makes a different scope")
            << QVariantMap{ { user, 1 } }
            << QVariantMap{ { user, 1 }, { QStringLiteral("org"), 1 } } << false;
    QTest::newRow("the same value under another name is a different scope")
            << QVariantMap{ { user, 1 } } << QVariantMap{ { QStringLiteral("team"), 1 } } << false;
    QTest::newRow("a null field is a different scope from no scope")
            << QVariantMap{ { user, QVariant() } } << QVariantMap() << false;
    QTest::newRow("an int and an equal double are the same scope")
            << QVariantMap{ { user, 1 } } << QVariantMap{ { user, 1.0 } } << true;
    QTest::newRow("an int and an equal long long are the same scope")
            << QVariantMap{ { user, 5 } } << QVariantMap{ { user, qint64(5) } } << true;
    QTest::newRow("a string list and an equal variant list are the same scope")
            << QVariantMap{ { user, QStringList{ QStringLiteral("a") } } }
            << QVariantMap{ { user, QVariantList{ QStringLiteral("a") } } } << true;
}

void tst_Records::scopeIdTellsScopesApart()
{
    QFETCH(QVariantMap, a);
    QFETCH(QVariantMap, b);
    QFETCH(bool, same);

    QCOMPARE(Synq::scopeId(a) == Synq::scopeId(b), same);
}

void tst_Records::collectionsAndKeys_data()
{
    QTest::addColumn<QStringList>("mutationCollections");
    QTest::addColumn<QStringList>("mutationKeys");
    QTest::addColumn<QStringList>("collections");
    QTest::addColumn<QStringList>("keys");

    QTest::newRow("a transaction without mutations touches nothing")
            << QStringList() << QStringList() << QStringList() << QStringList();
    QTest::newRow("one mutation gives one collection and one key")
            << QStringList{ QStringLiteral("todos") } << QStringList{ QStringLiteral("k1") }
            << QStringList{ QStringLiteral("todos") } << QStringList{ QStringLiteral("k1") };
    QTest::newRow("repeated collection and key are listed once")
            << QStringList{ QStringLiteral("todos"), QStringLiteral("todos") }
            << QStringList{ QStringLiteral("k1"), QStringLiteral("k1") }
            << QStringList{ QStringLiteral("todos") } << QStringList{ QStringLiteral("k1") };
    QTest::newRow("first appearance decides the order, not the alphabet")
            << QStringList{ QStringLiteral("todos"), QStringLiteral("lists"),
                            QStringLiteral("todos"), QStringLiteral("attachments"),
                            QStringLiteral("lists") }
            << QStringList{ QStringLiteral("k3"), QStringLiteral("k1"), QStringLiteral("k2"),
                            QStringLiteral("k1"), QStringLiteral("k3") }
            << QStringList{ QStringLiteral("todos"), QStringLiteral("lists"),
                            QStringLiteral("attachments") }
            << QStringList{ QStringLiteral("k3"), QStringLiteral("k1"), QStringLiteral("k2") };
    QTest::newRow("the same key in two collections is listed once")
            << QStringList{ QStringLiteral("a"), QStringLiteral("b") }
            << QStringList{ QStringLiteral("shared"), QStringLiteral("shared") }
            << QStringList{ QStringLiteral("a"), QStringLiteral("b") }
            << QStringList{ QStringLiteral("shared") };
    QTest::newRow("names differing only in case are different")
            << QStringList{ QStringLiteral("Todos"), QStringLiteral("todos") }
            << QStringList{ QStringLiteral("K"), QStringLiteral("k") }
            << QStringList{ QStringLiteral("Todos"), QStringLiteral("todos") }
            << QStringList{ QStringLiteral("K"), QStringLiteral("k") };
}

void tst_Records::collectionsAndKeys()
{
    QFETCH(QStringList, mutationCollections);
    QFETCH(QStringList, mutationKeys);
    QFETCH(QStringList, collections);
    QFETCH(QStringList, keys);
    QCOMPARE(mutationCollections.size(), mutationKeys.size());

    TransactionRecord tx;
    for (qsizetype i = 0; i < mutationCollections.size(); ++i) {
        MutationRecord m;
        m.collection = mutationCollections.at(i);
        m.key = mutationKeys.at(i);
        m.sequence = int(i);
        tx.mutations.append(m);
    }
    QCOMPARE(tx.collections(), collections);
    QCOMPARE(tx.keys(), keys);
}

void tst_Records::defaults()
{
    // enum classes without a QTest::toString: compare their numbers.
    const MutationRecord m;
    QCOMPARE(int(m.type), int(MutationType::Insert));
    QCOMPARE(int(m.state), int(MutationState::Created));
    QCOMPARE(m.sequence, 0);
    QCOMPARE(m.baseVersion, qint64(0));
    QVERIFY(m.original.isEmpty() && m.modified.isEmpty() && m.changes.isEmpty());

    const TransactionRecord tx;
    QCOMPARE(int(tx.strategy), int(StrategyKind::Ordered));
    QCOMPARE(int(tx.state), int(TransactionState::Pending));
    QCOMPARE(tx.currentAttempt, 0);
    QVERIFY(!tx.error.isError());
    QVERIFY(tx.mutations.isEmpty() && tx.attempts.isEmpty());

    const AttemptRecord attempt;
    QVERIFY(!attempt.error.isError());
}

void tst_Records::mutationToVariantMap_data()
{
    QTest::addColumn<MutationType>("type");
    QTest::addColumn<MutationState>("state");
    QTest::addColumn<QString>("typeName");
    QTest::addColumn<QString>("stateName");

    QTest::newRow("a created insert") << MutationType::Insert << MutationState::Created
                                      << QStringLiteral("insert") << QStringLiteral("created");
    QTest::newRow("a persisting update") << MutationType::Update << MutationState::Persisting
                                         << QStringLiteral("update") << QStringLiteral("persisting");
    QTest::newRow("a synced remove") << MutationType::Remove << MutationState::Synced
                                     << QStringLiteral("remove") << QStringLiteral("synced");
}

void tst_Records::mutationToVariantMap()
{
    QFETCH(MutationType, type);
    QFETCH(MutationState, state);
    QFETCH(QString, typeName);
    QFETCH(QString, stateName);

    MutationRecord m;
    m.id = QStringLiteral("mut-1");
    m.transactionId = QStringLiteral("tx-1");
    m.sequence = 3;
    m.collection = QStringLiteral("todos");
    m.key = QStringLiteral("k-9");
    m.type = type;
    m.baseVersion = 17;
    m.original = { { QStringLiteral("title"), QStringLiteral("Milk") },
                   { QStringLiteral("done"), false } };
    m.modified = { { QStringLiteral("title"), QStringLiteral("Milk") },
                   { QStringLiteral("done"), true } };
    m.changes = { { QStringLiteral("done"), true } };
    m.metadata = QJsonObject{ { QStringLiteral("source"), QStringLiteral("ui") },
                              { QStringLiteral("tags"), QJsonArray{ 1, 2 } } };
    m.state = state;
    m.createdAt = QDateTime(QDate(2024, 1, 2), QTime(3, 4, 5, 6), Qt::UTC);
    m.updatedAt = QDateTime(QDate(2024, 1, 2), QTime(3, 4, 6, 0), Qt::UTC);

    const QVariantMap map = m.toVariantMap();

    // The fields the API promises to QML's Transaction.mutations, plus the base version.
    const QStringList promised{ QStringLiteral("mutationId"), QStringLiteral("collection"),
                                QStringLiteral("type"),       QStringLiteral("key"),
                                QStringLiteral("original"),   QStringLiteral("modified"),
                                QStringLiteral("changes"),    QStringLiteral("metadata"),
                                QStringLiteral("state"),      QStringLiteral("createdAt"),
                                QStringLiteral("updatedAt") };
    for (const QString &field : promised)
        QVERIFY2(map.contains(field), qPrintable(field));
    QStringList expectedKeys = promised;
    expectedKeys.append(QStringLiteral("baseVersion"));
    expectedKeys.sort();
    QCOMPARE(map.keys(), expectedKeys);

    QCOMPARE(map.value(QStringLiteral("mutationId")), QVariant(QStringLiteral("mut-1")));
    QCOMPARE(map.value(QStringLiteral("collection")), QVariant(QStringLiteral("todos")));
    QCOMPARE(map.value(QStringLiteral("key")), QVariant(QStringLiteral("k-9")));
    QCOMPARE(map.value(QStringLiteral("type")).toString(), typeName);
    QCOMPARE(map.value(QStringLiteral("state")).toString(), stateName);
    QCOMPARE(map.value(QStringLiteral("baseVersion")).toLongLong(), qint64(17));
    QCOMPARE(map.value(QStringLiteral("original")).toMap(), m.original.toVariantMap());
    QCOMPARE(map.value(QStringLiteral("modified")).toMap(), m.modified.toVariantMap());
    QCOMPARE(map.value(QStringLiteral("changes")).toMap(),
             (QVariantMap{ { QStringLiteral("done"), true } }));
    QCOMPARE(map.value(QStringLiteral("metadata")).toMap(),
             (QVariantMap{ { QStringLiteral("source"), QStringLiteral("ui") },
                           { QStringLiteral("tags"), QVariantList{ 1, 2 } } }));
    QCOMPARE(map.value(QStringLiteral("createdAt")).toDateTime(), m.createdAt);
    QCOMPARE(map.value(QStringLiteral("updatedAt")).toDateTime(), m.updatedAt);

    // Nested values are plain variants QML can read, not JSON wrappers.
    QCOMPARE(map.value(QStringLiteral("original")).metaType(), QMetaType::fromType<QVariantMap>());
    QCOMPARE(map.value(QStringLiteral("createdAt")).metaType(), QMetaType::fromType<QDateTime>());
}

void tst_Records::attemptToVariantMap()
{
    AttemptRecord attempt;
    attempt.id = QStringLiteral("att-1");
    attempt.startedAt = QDateTime(QDate(2024, 1, 2), QTime(3, 4, 5), Qt::UTC);
    attempt.completedAt = attempt.startedAt.addMSecs(250);
    attempt.error = SyncError(SyncError::Network, QStringLiteral("offline")).setHttpStatus(503);
    attempt.retryScheduledFor = attempt.completedAt.addSecs(2);

    const QVariantMap map = attempt.toVariantMap();
    QCOMPARE(map.keys(),
             (QStringList{ QStringLiteral("completedAt"), QStringLiteral("error"),
                           QStringLiteral("id"), QStringLiteral("retryScheduledFor"),
                           QStringLiteral("startedAt") }));
    QCOMPARE(map.value(QStringLiteral("id")).toString(), QStringLiteral("att-1"));
    QCOMPARE(map.value(QStringLiteral("startedAt")).toDateTime(), attempt.startedAt);
    QCOMPARE(map.value(QStringLiteral("completedAt")).toDateTime(), attempt.completedAt);
    QCOMPARE(map.value(QStringLiteral("retryScheduledFor")).toDateTime(),
             attempt.retryScheduledFor);
    QCOMPARE(map.value(QStringLiteral("error")).metaType(), QMetaType::fromType<SyncError>());
    QVERIFY(map.value(QStringLiteral("error")).value<SyncError>() == attempt.error);
}

QTEST_GUILESS_MAIN(tst_Records)
#include "tst_records.moc"
