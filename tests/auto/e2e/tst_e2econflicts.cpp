// SPDX-License-Identifier: BSD-3-Clause
// Conflicts end to end (issue 12): for each conflict policy and each kind of conflict
// (update/update, update/delete, delete/update), three clients — SyncEngine + HttpTransport,
// each on its own SQLite file — against a real synq-server on 127.0.0.1: two edit one synced
// record while apart, a third only pulls. After they sync in a fixed order and then until
// nothing moves, every replica and the server hold exactly the record docs/conflicts.md
// promises (or none), and the losing transaction records the documented conflictOutcome.

#include "serverprocess.h"
#include "testprinters.h"

#include <synq/conflictmodel.h>
#include <synq/httptransport.h>
#include <synq/hybridclock.h>
#include <synq/synccollection.h>
#include <synq/syncengine.h>
#include <synq/transaction.h>

#include <QtCore/QDateTime>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QMetaEnum>
#include <QtCore/QPointer>
#include <QtCore/QTemporaryDir>
#include <QtCore/QUrlQuery>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QNetworkRequest>
#include <QtTest/QAbstractItemModelTester>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Synq;

namespace E2EConflicts {

// What the two editing clients do to the synced record while apart. A is the one that syncs
// second and meets the conflict ("local"); B's change reaches the server first ("server").
enum class Edits {
    UpdateUpdate, // A updates, B updates
    UpdateDelete, // A updates, B deletes
    DeleteUpdate, // A deletes, B updates
};

// How A's app resolves a Manual conflict.
enum class Resolution { None, WithLocal, WithServer, WithMerged };

// What the Custom resolver of a case answers (customResolver()).
enum class Answer {
    None, // not a Custom case
    Merge, // both titles on update/update, "Restored: " on update/delete, {} on delete/update
    TheServers, // the server's record, always (empty when the server deleted it)
    Checked, // the server's record (the local one if the server deleted it), title "Checked: "
};

} // namespace E2EConflicts

Q_DECLARE_METATYPE(E2EConflicts::Edits)
Q_DECLARE_METATYPE(E2EConflicts::Resolution)
Q_DECLARE_METATYPE(E2EConflicts::Answer)

using namespace E2EConflicts;

namespace {

// Every wait is bounded: a sync run by SyncTimeout, anything else by Timeout (a QTRY that
// fails waits up to twice as long again to say whether it would have passed later).
constexpr int SyncTimeout = 30000;
constexpr int Timeout = 5000;
constexpr int MaxSettleRounds = 6;

#define DO(statement)                                                                              \
    do {                                                                                           \
        statement;                                                                                 \
        if (QTest::currentTestFailed())                                                            \
            return;                                                                                \
    } while (false)

inline QString s(const char *text)
{
    return QString::fromUtf8(text);
}

QString compact(const QJsonObject &object)
{
    return QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact));
}

// A record as the tests compare it: compact JSON with sorted keys, or "(none)".
QString shown(const QJsonObject &record)
{
    return record.isEmpty() ? s("(none)") : compact(record);
}

QString outcomeName(Transaction::ConflictOutcome outcome)
{
    return QString::fromLatin1(
            QMetaEnum::fromType<Transaction::ConflictOutcome>().valueToKey(int(outcome)));
}

const QString Collection = s("notes");
const QString Key = s("n1");
const QStringList Fields = { s("title"), s("body"), s("tags"), s("views"), s("done") };

// The record every case starts from, and what each side does to it.
QJsonObject seedRecord()
{
    return { { s("id"), Key },
             { s("title"), s("Milk") },
             { s("body"), s("2 l") },
             { s("tags"), QJsonArray { s("shop"), s("x") } },
             { s("views"), 1 },
             { s("done"), false } };
}

// A's update: every field but done; drops tag x, adds a.
QJsonObject localChanges()
{
    return { { s("title"), s("Oat milk") },
             { s("body"), s("1 l") },
             { s("tags"), QJsonArray { s("shop"), s("a") } },
             { s("views"), 4 } };
}

// B's update: every field; adds tag b, counts further.
QJsonObject serverChanges()
{
    return { { s("title"), s("Soy milk") },
             { s("body"), s("3 l") },
             { s("tags"), QJsonArray { s("shop"), s("x"), s("b") } },
             { s("views"), 9 },
             { s("done"), true } };
}

QJsonObject applied(QJsonObject record, const QJsonObject &changes)
{
    for (auto it = changes.begin(); it != changes.end(); ++it)
        record.insert(it.key(), it.value());
    return record;
}

QJsonObject localRecord()
{
    return applied(seedRecord(), localChanges());
}

QJsonObject serverRecord()
{
    return applied(seedRecord(), serverChanges());
}

// ClientWins (and resolveWithLocal) on update/update: the fields A changed take its values,
// B's other change (done) stays.
QJsonObject localOnServer()
{
    return applied(serverRecord(), localChanges());
}

// FieldMerge with title LocalWins, body ServerWins, tags MergeArrays, views Monotonic: done
// only B changed.
QJsonObject fieldMerged()
{
    return applied(serverRecord(),
                   { { s("title"), s("Oat milk") },
                     { s("body"), s("3 l") },
                     // B's tags in its order less x (A removed it), then A's addition a
                     { s("tags"), QJsonArray { s("shop"), s("b"), s("a") } },
                     // the larger, although A's 4 would win as LocalWins
                     { s("views"), 9 } });
}

// The Custom resolver of these tests (customResolver()) on each kind of conflict.
QJsonObject customMerged()
{
    return applied(serverRecord(), { { s("title"), s("Soy milk / Oat milk") } });
}

QJsonObject customRestored()
{
    return applied(localRecord(), { { s("title"), s("Restored: Oat milk") } });
}

QJsonObject checkedServer()
{
    return applied(serverRecord(), { { s("title"), s("Checked: Soy milk") } });
}

QJsonObject checkedLocal()
{
    return applied(localRecord(), { { s("title"), s("Checked: Oat milk") } });
}

// What A's app hands resolveWith() in the Manual cases.
QJsonObject manualMerged()
{
    return { { s("id"), Key },
             { s("title"), s("Both") },
             { s("body"), s("1 l, 3 l") },
             { s("tags"), QJsonArray { s("shop"), s("a"), s("b") } },
             { s("views"), 9 },
             { s("done"), true } };
}

struct ResolverCall
{
    QJsonObject local, server, base;
};

SyncEngine::ConflictResolver customResolver(Answer answer, QList<ResolverCall> *calls)
{
    return [answer, calls](const QJsonObject &local, const QJsonObject &server,
                           const QJsonObject &base) -> std::optional<QJsonObject> {
        calls->append({ local, server, base });
        switch (answer) {
        case Answer::None:
        case Answer::Merge:
            break;
        case Answer::TheServers:
            return server;
        case Answer::Checked: {
            QJsonObject checked = server.isEmpty() ? local : server;
            checked.insert(s("title"), s("Checked: ") + checked.value(s("title")).toString());
            return checked;
        }
        }
        if (local.isEmpty())
            return QJsonObject();
        if (server.isEmpty()) {
            QJsonObject restored = local;
            restored.insert(s("title"), s("Restored: ") + local.value(s("title")).toString());
            return restored;
        }
        QJsonObject merged = server;
        merged.insert(s("title"),
                      server.value(s("title")).toString() + s(" / ")
                              + local.value(s("title")).toString());
        return merged;
    };
}

// How a case sets up its collection on every replica.
struct PolicySetup
{
    SyncCollection::ConflictPolicy policy = SyncCollection::ServerWins;
    SyncCollection::Strategy strategy = SyncCollection::Ordered;
    QVariantMap fieldPolicies;
    SyncEngine::ConflictResolver resolver;
};

// One app instance: its own database file (which outlives the engine, for restarts), engine,
// transport and "notes" model.
class Client
{
public:
    Client(const QString &name, const QUrl &url, const PolicySetup &setup)
        : m_name(name), m_url(url), m_setup(setup)
    {
        open();
    }
    ~Client() { close(); }

    // Opens the engine on the database file (again, after close()).
    void open()
    {
        transport = std::make_unique<HttpTransport>();
        transport->setUrl(m_url);
        transport->setTimeoutMs(10000);
        engine = std::make_unique<SyncEngine>();
        engine->setAutoSync(false); // the test says when each replica syncs
        engine->setDatabasePath(m_dir.filePath(s("client.sqlite")));
        engine->open();
        engine->setTransport(transport.get());
        notes = std::make_unique<SyncCollection>(engine.get(), Collection, Fields);
        notes->setStrategy(m_setup.strategy);
        notes->setConflictPolicy(m_setup.policy);
        if (!m_setup.fieldPolicies.isEmpty())
            notes->setFieldPolicies(m_setup.fieldPolicies);
        if (m_setup.resolver)
            notes->setConflictResolver(m_setup.resolver);
        tester = std::make_unique<QAbstractItemModelTester>(
                notes.get(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    }

    // Destroys the app's objects as a quitting app does; the database file stays.
    void close()
    {
        tester.reset();
        notes.reset();
        engine.reset();
        transport.reset();
    }

    // One sync run; its report ({} if it did not finish in time).
    QVariantMap sync()
    {
        QSignalSpy finished(engine.get(), &SyncEngine::syncFinished);
        engine->syncNow();
        if (!finished.wait(SyncTimeout))
            return {};
        return finished.constFirst().constFirst().toMap();
    }

    // The visible record of key as compact JSON (fields and key, no meta roles), or "(none)".
    QString record(const QString &key) const
    {
        if (notes->indexOfKey(key) < 0)
            return shown({});
        const QVariantMap item = notes->getByKey(key);
        const QStringList meta = SyncCollection::metaRoleNames();
        QJsonObject fields;
        for (auto it = item.cbegin(); it != item.cend(); ++it) {
            if (!meta.contains(it.key()))
                fields.insert(it.key(), QJsonValue::fromVariant(it.value()));
        }
        return shown(fields);
    }

    QVariant meta(const QString &key, const char *role) const
    {
        return notes->getByKey(key).value(s(role));
    }

    QString name() const { return m_name; }
    QString databasePath() const { return m_dir.filePath(s("client.sqlite")); }

    std::unique_ptr<HttpTransport> transport;
    std::unique_ptr<SyncEngine> engine;
    std::unique_ptr<SyncCollection> notes;
    std::unique_ptr<QAbstractItemModelTester> tester;

private:
    QTemporaryDir m_dir;
    QString m_name;
    QUrl m_url;
    PolicySetup m_setup;
};

struct ServerRow
{
    QJsonObject record;
    qint64 version = 0;
};

// One case: a server and three clients on one synced record. A and B edit it, C only pulls.
struct Scenario
{
    explicit Scenario(const PolicySetup &setup) : setup(setup) { }

    PolicySetup setup;
    SynqTest::ServerProcess server;
    std::unique_ptr<Client> a, b, c;
    QPointer<Transaction> local; // A's change, the one that meets the conflict
    QPointer<Transaction> remote; // B's change, applied first
    QString localId;

    QList<Client *> clients() const { return { a.get(), b.get(), c.get() }; }
};

} // namespace

class tst_E2EConflicts : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data();
    void everyReplicaEndsInTheDocumentedState_data();
    void everyReplicaEndsInTheDocumentedState();
    void manualConflictSurvivesARestart_data();
    void manualConflictSurvivesARestart();
    void heldUpdateOfADeletedRowStaysVisible();

private:
    void start(Scenario &scenario);
    void edit(Scenario &scenario, Edits edits, bool localWriteIsLater);
    void syncOnce(Client &client, QVariantMap *report);
    void settle(Scenario &scenario);
    void readServer(const QUrl &url, QHash<QString, ServerRow> *rows);
    void checkFinal(Scenario &scenario, const QJsonObject &expected);
    void checkHeld(Scenario &scenario, Edits edits);
};

void tst_E2EConflicts::initTestCase_data()
{
    QTest::addColumn<SyncCollection::Strategy>("strategy");
    QTest::newRow("ordered") << SyncCollection::Ordered;
    QTest::newRow("parallel") << SyncCollection::Parallel;
}

// A sync run that went through, without failures.
void tst_E2EConflicts::syncOnce(Client &client, QVariantMap *report)
{
    const QVariantMap r = client.sync();
    QVERIFY2(!r.isEmpty(), qPrintable(client.name() + s(": no syncFinished in time")));
    const SyncError error = r.value(s("error")).value<SyncError>();
    QVERIFY2(!error.isError(), qPrintable(client.name() + s(": ") + describe(error)));
    QCOMPARE(r.value(s("failed")).toInt(), 0);
    if (report)
        *report = r;
}

// The server and the clients; B writes the record, A and C pull it: all three hold it synced.
void tst_E2EConflicts::start(Scenario &scenario)
{
    QVERIFY2(scenario.server.start(), qPrintable(scenario.server.errorString()));
    const QUrl url = scenario.server.url();
    scenario.a = std::make_unique<Client>(s("A"), url, scenario.setup);
    scenario.b = std::make_unique<Client>(s("B"), url, scenario.setup);
    scenario.c = std::make_unique<Client>(s("C"), url, scenario.setup);
    QVERIFY(scenario.b->notes->insert(seedRecord().toVariantMap()));
    DO(syncOnce(*scenario.b, nullptr));
    DO(syncOnce(*scenario.a, nullptr));
    DO(syncOnce(*scenario.c, nullptr));
    const qint64 version = scenario.b->meta(Key, "version").toLongLong();
    QVERIFY(version > 0);
    for (Client *client : scenario.clients()) {
        QCOMPARE(client->record(Key), shown(seedRecord()));
        QCOMPARE(client->meta(Key, "version").toLongLong(), version);
        QCOMPARE(client->meta(Key, "syncState").toInt(), int(SyncCollection::Synced));
    }
}

// A and B change the record while apart (neither syncs). With localWriteIsLater, B's change
// is made first and A's after it, else the other way round: what LastWriteWins decides by.
void tst_E2EConflicts::edit(Scenario &scenario, Edits edits, bool localWriteIsLater)
{
    auto editA = [&] {
        return edits == Edits::DeleteUpdate
                ? scenario.a->notes->remove(Key)
                : scenario.a->notes->update(Key, localChanges().toVariantMap());
    };
    auto editB = [&] {
        return edits == Edits::UpdateDelete
                ? scenario.b->notes->remove(Key)
                : scenario.b->notes->update(Key, serverChanges().toVariantMap());
    };
    // The second write is made once the wall clock has moved past the first one's stamp, so
    // that the order does not rest on the node-id tie-break; asserted below on the stamps.
    auto afterStampOf = [](Transaction *first) {
        const std::optional<HybridClock::Timestamp> stamp = HybridClock::parse(first->record().hlc);
        QVERIFY2(stamp, qPrintable(first->record().hlc));
        QTRY_VERIFY_WITH_TIMEOUT(QDateTime::currentMSecsSinceEpoch() > stamp->wallMs + 1, Timeout);
    };
    if (localWriteIsLater) {
        scenario.remote = editB();
        QVERIFY(scenario.remote);
        DO(afterStampOf(scenario.remote));
        scenario.local = editA();
        QVERIFY(scenario.local);
    } else {
        scenario.local = editA();
        QVERIFY(scenario.local);
        DO(afterStampOf(scenario.local));
        scenario.remote = editB();
        QVERIFY(scenario.remote);
    }
    scenario.localId = scenario.local->id();
    const auto localStamp = HybridClock::parse(scenario.local->record().hlc);
    const auto remoteStamp = HybridClock::parse(scenario.remote->record().hlc);
    QVERIFY(localStamp && remoteStamp);
    QCOMPARE(HybridClock::compare(*localStamp, *remoteStamp) > 0, localWriteIsLater);

    // Optimistic on each side, nothing sent yet.
    QCOMPARE(scenario.a->record(Key),
             shown(edits == Edits::DeleteUpdate ? QJsonObject() : localRecord()));
    QCOMPARE(scenario.b->record(Key),
             shown(edits == Edits::UpdateDelete ? QJsonObject() : serverRecord()));
    QCOMPARE(scenario.c->record(Key), shown(seedRecord()));
}

// Everyone syncs, A, B, C, round after round, until a whole round pushes and pulls nothing.
void tst_E2EConflicts::settle(Scenario &scenario)
{
    for (int round = 0; round < MaxSettleRounds; ++round) {
        int moved = 0;
        for (Client *client : scenario.clients()) {
            QVariantMap report;
            DO(syncOnce(*client, &report));
            moved += report.value(s("pushed")).toInt() + report.value(s("pulled")).toInt();
            QCOMPARE(report.value(s("conflicts")).toInt(), 0);
        }
        if (moved == 0)
            return;
    }
    QFAIL(qPrintable(s("the replicas did not settle within %1 rounds").arg(MaxSettleRounds)));
}

// The server's live records, read from its change feed from the beginning (GET /v1/changes),
// as a client that knows nothing would see them.
void tst_E2EConflicts::readServer(const QUrl &url, QHash<QString, ServerRow> *rows)
{
    QNetworkAccessManager network;
    QString cursor;
    for (int page = 0; page < 100; ++page) {
        QUrl changes = url.resolved(QUrl(s("/v1/changes")));
        QUrlQuery query;
        query.addQueryItem(s("collection"), Collection);
        query.addQueryItem(s("limit"), s("1000"));
        if (!cursor.isEmpty())
            query.addQueryItem(s("since"), cursor);
        changes.setQuery(query);
        std::unique_ptr<QNetworkReply> reply(network.get(QNetworkRequest(changes)));
        QSignalSpy finished(reply.get(), &QNetworkReply::finished);
        QVERIFY(reply->isFinished() || finished.wait(Timeout));
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        QJsonParseError error;
        const QJsonObject body = QJsonDocument::fromJson(reply->readAll(), &error).object();
        QCOMPARE(error.error, QJsonParseError::NoError);
        for (const QJsonValue &value : body.value(s("changes")).toArray()) {
            const QJsonObject change = value.toObject();
            const QString key = change.value(s("key")).toString();
            if (change.value(s("op")).toString() == s("delete"))
                rows->remove(key);
            else
                rows->insert(key, { change.value(s("data")).toObject(),
                                    qint64(change.value(s("version")).toDouble()) });
        }
        cursor = body.value(s("cursor")).toString();
        if (!body.value(s("hasMore")).toBool())
            return;
    }
    QFAIL("the server's change feed did not end within 100 pages");
}

// The server and every replica hold exactly expected (empty: no record at all), synced, at the
// server's version, with nothing left pending or waiting.
void tst_E2EConflicts::checkFinal(Scenario &scenario, const QJsonObject &expected)
{
    QHash<QString, ServerRow> server;
    DO(readServer(scenario.server.url(), &server));
    QCOMPARE(shown(server.value(Key).record), shown(expected));
    QCOMPARE(server.size(), expected.isEmpty() ? 0 : 1);
    for (Client *client : scenario.clients()) {
        const QByteArray who = client->name().toUtf8();
        QVERIFY2(client->record(Key) == shown(expected),
                 qPrintable(s("%1 holds %2, expected %3")
                                    .arg(client->name(), client->record(Key), shown(expected))));
        QCOMPARE(client->notes->count(), expected.isEmpty() ? 0 : 1);
        if (!expected.isEmpty()) {
            QCOMPARE(client->meta(Key, "version").toLongLong(), server.value(Key).version);
            QCOMPARE(client->meta(Key, "syncState").toInt(), int(SyncCollection::Synced));
            QCOMPARE(client->meta(Key, "isOptimistic").toBool(), false);
        }
        QVERIFY2(client->engine->transactions().isEmpty(), who.constData());
        QVERIFY2(client->engine->deadLetters().isEmpty(), who.constData());
        QVERIFY2(client->engine->conflicts().isEmpty(), who.constData());
        QCOMPARE(client->engine->status()->pendingCount(), 0);
        QCOMPARE(client->engine->status()->conflictCount(), 0);
    }
}

// A Manual conflict waits on A: its row keeps A's change and shows Conflict, nothing of it
// reaches the server, and the conflict lists what each side holds.
void tst_E2EConflicts::checkHeld(Scenario &scenario, Edits edits)
{
    Transaction *held = scenario.a->engine->transaction(scenario.localId);
    QVERIFY(held);
    QCOMPARE(held->state(), Transaction::Pending);
    QCOMPARE(held->conflictOutcome(), Transaction::ManualRequired);
    const QJsonObject localState = edits == Edits::DeleteUpdate ? QJsonObject() : localRecord();
    const QJsonObject serverState = edits == Edits::UpdateDelete ? QJsonObject() : serverRecord();
    // The row shows A's change on top of the server's state the conflict brought: on
    // update/update the fields A changed hold its values, B's other change (done) shows; on
    // delete/update the row stays removed. (update/delete: heldUpdateOfADeletedRowStaysVisible.)
    if (edits == Edits::UpdateUpdate) {
        QCOMPARE(scenario.a->record(Key), shown(localOnServer()));
        QCOMPARE(scenario.a->meta(Key, "syncState").toInt(), int(SyncCollection::Conflict));
    } else if (edits == Edits::DeleteUpdate) {
        QCOMPARE(scenario.a->record(Key), shown(QJsonObject()));
    }
    QCOMPARE(scenario.a->engine->status()->conflictCount(), 1);
    const QVariantList conflicts = scenario.a->engine->conflicts();
    QCOMPARE(conflicts.size(), 1);
    const QVariantMap c = conflicts.constFirst().toMap();
    QCOMPARE(c.value(s("transactionId")).toString(), scenario.localId);
    QCOMPARE(c.value(s("collection")).toString(), Collection);
    QCOMPARE(c.value(s("key")).toString(), Key);
    QCOMPARE(shown(QJsonObject::fromVariantMap(c.value(s("local")).toMap())), shown(localState));
    QCOMPARE(shown(QJsonObject::fromVariantMap(c.value(s("server")).toMap())), shown(serverState));
    QCOMPARE(shown(QJsonObject::fromVariantMap(c.value(s("base")).toMap())), shown(seedRecord()));
    if (edits == Edits::DeleteUpdate)
        QVERIFY(c.value(s("local")).isNull());
    if (edits == Edits::UpdateDelete)
        QVERIFY(c.value(s("server")).isNull());

    QHash<QString, ServerRow> server;
    DO(readServer(scenario.server.url(), &server));
    QCOMPARE(shown(server.value(Key).record), shown(serverState));
    if (!serverState.isEmpty())
        QCOMPARE(c.value(s("serverVersion")).toLongLong(), server.value(Key).version);
    QCOMPARE(scenario.b->record(Key), shown(serverState));
    QCOMPARE(scenario.c->record(Key), shown(seedRecord())); // C has not synced since
}

void tst_E2EConflicts::everyReplicaEndsInTheDocumentedState_data()
{
    QTest::addColumn<SyncCollection::ConflictPolicy>("policy");
    QTest::addColumn<Edits>("edits");
    QTest::addColumn<bool>("localWriteIsLater"); // LastWriteWins decides by it
    QTest::addColumn<Resolution>("resolution"); // Manual
    QTest::addColumn<QJsonObject>("expected"); // the final record everywhere; empty: none
    QTest::addColumn<Transaction::ConflictOutcome>("outcome"); // A's, as its conflict was met
    QTest::addColumn<Transaction::ConflictOutcome>("finalOutcome"); // A's, in the end
    QTest::addColumn<Answer>("answer"); // Custom

    const QJsonObject none;
    const auto adopt = Transaction::AdoptServer;
    const auto rebase = Transaction::RebaseAndRetry;
    const auto manual = Transaction::ManualRequired;
    const auto uu = Edits::UpdateUpdate;
    const auto ud = Edits::UpdateDelete;
    const auto du = Edits::DeleteUpdate;
    const auto no = Resolution::None;
    const auto any = Answer::None; // not a Custom case

    auto row = [](const char *name) -> QTestData & { return QTest::newRow(name); };

    row("ServerWins, update/update: the server's record stands")
            << SyncCollection::ServerWins << uu << false << no << serverRecord() << adopt
            << adopt << any;
    row("ServerWins, update/delete: the delete is final")
            << SyncCollection::ServerWins << ud << false << no << none << adopt << adopt << any;
    row("ServerWins, delete/update: the row comes back with the server's record")
            << SyncCollection::ServerWins << du << false << no << serverRecord() << adopt
            << adopt << any;

    row("ClientWins, update/update: the local fields on the server's record")
            << SyncCollection::ClientWins << uu << false << no << localOnServer() << rebase
            << rebase << any;
    row("ClientWins, update/delete: the row is created again with the local record")
            << SyncCollection::ClientWins << ud << false << no << localRecord() << rebase
            << rebase << any;
    row("ClientWins, delete/update: the row is removed again")
            << SyncCollection::ClientWins << du << false << no << none << rebase << rebase << any;

    row("LastWriteWins, update/update, the local write later: as ClientWins")
            << SyncCollection::LastWriteWins << uu << true << no << localOnServer() << rebase
            << rebase << any;
    row("LastWriteWins, update/update, the server's write later: as ServerWins")
            << SyncCollection::LastWriteWins << uu << false << no << serverRecord() << adopt
            << adopt << any;
    row("LastWriteWins, update/delete, the edit later: the row is created again")
            << SyncCollection::LastWriteWins << ud << true << no << localRecord() << rebase
            << rebase << any;
    row("LastWriteWins, update/delete, the delete later: the row goes")
            << SyncCollection::LastWriteWins << ud << false << no << none << adopt << adopt << any;
    row("LastWriteWins, delete/update, the delete later: the row is removed again")
            << SyncCollection::LastWriteWins << du << true << no << none << rebase << rebase << any;
    row("LastWriteWins, delete/update, the edit later: the row comes back")
            << SyncCollection::LastWriteWins << du << false << no << serverRecord() << adopt
            << adopt << any;

    row("FieldMerge, update/update: each field merged by its policy")
            << SyncCollection::FieldMerge << uu << false << no << fieldMerged() << rebase
            << rebase << any;
    row("FieldMerge, update/delete: the delete is final")
            << SyncCollection::FieldMerge << ud << false << no << none << adopt << adopt << any;
    row("FieldMerge, delete/update: the server's edit brings the row back")
            << SyncCollection::FieldMerge << du << false << no << serverRecord() << adopt
            << adopt << any;

    const auto merge = Answer::Merge;
    row("Custom, update/update: the resolver's merged record")
            << SyncCollection::Custom << uu << false << no << customMerged() << rebase << rebase
            << merge;
    row("Custom, update/delete: the resolver's record is created again")
            << SyncCollection::Custom << ud << false << no << customRestored() << rebase << rebase
            << merge;
    row("Custom, delete/update: the resolver's empty record removes the row again")
            << SyncCollection::Custom << du << false << no << none << rebase << rebase << merge;
    const auto theServers = Answer::TheServers;
    row("Custom, update/update: the server's record handed back stands")
            << SyncCollection::Custom << uu << false << no << serverRecord() << adopt << adopt
            << theServers;
    row("Custom, update/delete: the empty server record handed back leaves no row")
            << SyncCollection::Custom << ud << false << no << none << adopt << adopt << theServers;
    row("Custom, delete/update: the server's record handed back brings the row back")
            << SyncCollection::Custom << du << false << no << serverRecord() << adopt << adopt
            << theServers;
    const auto checked = Answer::Checked;
    row("Custom, update/update: another record is sent on the server's version")
            << SyncCollection::Custom << uu << false << no << checkedServer() << rebase << rebase
            << checked;
    row("Custom, update/delete: another record is created again")
            << SyncCollection::Custom << ud << false << no << checkedLocal() << rebase << rebase
            << checked;
    row("Custom, delete/update: another record is sent as an update")
            << SyncCollection::Custom << du << false << no << checkedServer() << rebase << rebase
            << checked;

    const struct
    {
        Edits edits;
        const char *name;
        QJsonObject withLocal, withServer, withMerged;
    } manualCases[] = {
        { uu, "update/update", localOnServer(), serverRecord(), manualMerged() },
        { ud, "update/delete", localRecord(), none, manualMerged() },
        { du, "delete/update", none, serverRecord(), manualMerged() },
    };
    for (const auto &m : manualCases) {
        QTest::addRow("Manual, %s, resolved with the local change", m.name)
                << SyncCollection::Manual << m.edits << false << Resolution::WithLocal
                << m.withLocal << manual << rebase << any;
        QTest::addRow("Manual, %s, resolved with the server's state", m.name)
                << SyncCollection::Manual << m.edits << false << Resolution::WithServer
                << m.withServer << manual << adopt << any;
        QTest::addRow("Manual, %s, resolved with a merged record", m.name)
                << SyncCollection::Manual << m.edits << false << Resolution::WithMerged
                << m.withMerged << manual << rebase << any;
    }
}

void tst_E2EConflicts::everyReplicaEndsInTheDocumentedState()
{
    QFETCH_GLOBAL(SyncCollection::Strategy, strategy);
    QFETCH(SyncCollection::ConflictPolicy, policy);
    QFETCH(Edits, edits);
    QFETCH(bool, localWriteIsLater);
    QFETCH(Resolution, resolution);
    QFETCH(QJsonObject, expected);
    QFETCH(Transaction::ConflictOutcome, outcome);
    QFETCH(Transaction::ConflictOutcome, finalOutcome);
    QFETCH(Answer, answer);

    QList<ResolverCall> calls;
    PolicySetup setup;
    setup.policy = policy;
    setup.strategy = strategy;
    if (policy == SyncCollection::FieldMerge) {
        setup.fieldPolicies = { { s("title"), int(SyncCollection::FieldPolicy::LocalWins) },
                                { s("body"), int(SyncCollection::FieldPolicy::ServerWins) },
                                { s("tags"), s("MergeArrays") },
                                { s("views"), int(SyncCollection::FieldPolicy::Monotonic) } };
    }
    if (policy == SyncCollection::Custom)
        setup.resolver = customResolver(answer, &calls);
    Scenario scenario(setup);
    DO(start(scenario));
    DO(edit(scenario, edits, localWriteIsLater));

    // B's change reaches the server first, as it is.
    QVariantMap report;
    DO(syncOnce(*scenario.b, &report));
    QCOMPARE(report.value(s("conflicts")).toInt(), 0);
    QVERIFY(scenario.remote);
    QCOMPARE(scenario.remote->state(), Transaction::Completed);
    QCOMPARE(scenario.remote->conflictOutcome(), Transaction::NoConflict);

    // A's meets it.
    std::unique_ptr<ConflictModel> conflicts;
    std::unique_ptr<QAbstractItemModelTester> conflictsTester;
    if (policy == SyncCollection::Manual) {
        conflicts = std::make_unique<ConflictModel>(scenario.a->engine.get());
        conflictsTester = std::make_unique<QAbstractItemModelTester>(
                conflicts.get(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    }
    QSignalSpy detected(scenario.a->notes.get(), &SyncCollection::conflictDetected);
    DO(syncOnce(*scenario.a, &report));
    QCOMPARE(report.value(s("conflicts")).toInt(), 1);
    const QVariantList expectedOutcomes {
        QVariantMap { { s("collection"), Collection },
                      { s("key"), Key },
                      { s("transactionId"), scenario.localId },
                      { s("outcome"), outcomeName(outcome) } },
    };
    QCOMPARE(report.value(s("conflictOutcomes")).toList(), expectedOutcomes);
    QTRY_COMPARE_WITH_TIMEOUT(detected.size(), 1, Timeout);
    QCOMPARE(detected.constFirst().constFirst().toString(), Key);
    QVERIFY(scenario.local);
    QCOMPARE(scenario.local->conflictOutcome(), outcome);

    if (policy == SyncCollection::Custom) {
        // The resolver saw exactly the three records (empty for a deletion), once.
        QCOMPARE(calls.size(), 1);
        QCOMPARE(shown(calls.constFirst().local),
                 shown(edits == Edits::DeleteUpdate ? QJsonObject() : localRecord()));
        QCOMPARE(shown(calls.constFirst().server),
                 shown(edits == Edits::UpdateDelete ? QJsonObject() : serverRecord()));
        QCOMPARE(shown(calls.constFirst().base), shown(seedRecord()));
    }

    if (policy == SyncCollection::Manual) {
        DO(checkHeld(scenario, edits));
        QTRY_COMPARE_WITH_TIMEOUT(conflicts->count(), 1, Timeout);
        // Another run sends nothing of it and changes nothing.
        DO(syncOnce(*scenario.a, &report));
        QCOMPARE(report.value(s("pushed")).toInt(), 0);
        QCOMPARE(report.value(s("conflicts")).toInt(), 0);
        DO(checkHeld(scenario, edits));

        const QString id = conflicts->get(0).value(s("conflictId")).toString();
        QCOMPARE(conflicts->data(conflicts->index(0), ConflictModel::KeyRole).toString(), Key);
        QSignalSpy removed(conflicts.get(), &QAbstractItemModel::rowsRemoved);
        switch (resolution) {
        case Resolution::WithLocal:
            QVERIFY(conflicts->resolveWithLocal(id));
            break;
        case Resolution::WithServer:
            QVERIFY(conflicts->resolveWithServer(id));
            break;
        case Resolution::WithMerged:
            QVERIFY(conflicts->resolveWith(id, manualMerged().toVariantMap()));
            break;
        case Resolution::None:
            QFAIL("a Manual row needs a resolution");
        }
        QCOMPARE(removed.size(), 1);
        QCOMPARE(conflicts->count(), 0);
        QCOMPARE(scenario.a->engine->status()->conflictCount(), 0);
        // At once, before any sync: the row shows the resolution.
        QCOMPARE(scenario.a->record(Key), shown(expected));
    }

    DO(settle(scenario));
    QVERIFY(scenario.local);
    QCOMPARE(scenario.local->state(), Transaction::Completed);
    QCOMPARE(scenario.local->conflictOutcome(), finalOutcome);
    QCOMPARE(scenario.local->error().code(), SyncError::None);
    QCOMPARE(scenario.remote->conflictOutcome(), Transaction::NoConflict);
    DO(checkFinal(scenario, expected));
    if (policy == SyncCollection::Custom)
        QCOMPARE(calls.size(), 1); // the resolver ran once for the one conflict

    conflictsTester.reset();
    conflicts.reset();
    scenario.a.reset();
    scenario.b.reset();
    scenario.c.reset();
    QCOMPARE(scenario.server.stop(), 0);
}

void tst_E2EConflicts::manualConflictSurvivesARestart_data()
{
    QTest::addColumn<Edits>("edits");
    QTest::addColumn<Resolution>("resolution");
    QTest::addColumn<QJsonObject>("expected");
    QTest::addColumn<Transaction::ConflictOutcome>("finalOutcome");
    QTest::newRow("update/update, resolved with a merged record after the restart")
            << Edits::UpdateUpdate << Resolution::WithMerged << manualMerged()
            << Transaction::RebaseAndRetry;
    QTest::newRow("update/delete, resolved with the local change after the restart")
            << Edits::UpdateDelete << Resolution::WithLocal << localRecord()
            << Transaction::RebaseAndRetry;
    QTest::newRow("delete/update, resolved with the server's state after the restart")
            << Edits::DeleteUpdate << Resolution::WithServer << serverRecord()
            << Transaction::AdoptServer;
}

// A's app quits while its Manual conflict waits and starts again on the same database: the
// conflict is still there, still holds A's change back, and resolving it then settles every
// replica as it would have before the restart.
void tst_E2EConflicts::manualConflictSurvivesARestart()
{
    QFETCH_GLOBAL(SyncCollection::Strategy, strategy);
    QFETCH(Edits, edits);
    QFETCH(Resolution, resolution);
    QFETCH(QJsonObject, expected);
    QFETCH(Transaction::ConflictOutcome, finalOutcome);

    PolicySetup setup;
    setup.policy = SyncCollection::Manual;
    setup.strategy = strategy;
    Scenario scenario(setup);
    DO(start(scenario));
    DO(edit(scenario, edits, false));
    DO(syncOnce(*scenario.b, nullptr));
    QVariantMap report;
    DO(syncOnce(*scenario.a, &report));
    QCOMPARE(report.value(s("conflicts")).toInt(), 1);
    DO(checkHeld(scenario, edits));
    const QString conflictId =
            scenario.a->engine->conflicts().constFirst().toMap().value(s("conflictId")).toString();
    QVERIFY(!conflictId.isEmpty());
    QHash<QString, ServerRow> before;
    DO(readServer(scenario.server.url(), &before));

    scenario.a->close();
    scenario.a->open();
    QTRY_VERIFY_WITH_TIMEOUT(scenario.a->engine->isReady(), Timeout);
    scenario.a->notes->fetchAll();
    QCOMPARE(scenario.a->engine->conflicts().size(), 1);
    QCOMPARE(scenario.a->engine->conflicts().constFirst().toMap().value(s("conflictId")).toString(),
             conflictId);
    DO(checkHeld(scenario, edits));

    // Back online after the restart: still nothing of A's change goes out.
    DO(syncOnce(*scenario.a, &report));
    QCOMPARE(report.value(s("pushed")).toInt(), 0);
    QCOMPARE(report.value(s("conflicts")).toInt(), 0);
    DO(checkHeld(scenario, edits));
    QHash<QString, ServerRow> after;
    DO(readServer(scenario.server.url(), &after));
    QCOMPARE(shown(after.value(Key).record), shown(before.value(Key).record));
    QCOMPARE(after.value(Key).version, before.value(Key).version);

    QSignalSpy removed(scenario.a->engine.get(), &SyncEngine::conflictRemoved);
    switch (resolution) {
    case Resolution::WithLocal:
        QVERIFY(scenario.a->engine->resolveConflictWithLocal(conflictId));
        break;
    case Resolution::WithServer:
        QVERIFY(scenario.a->engine->resolveConflictWithServer(conflictId));
        break;
    case Resolution::WithMerged:
        QVERIFY(scenario.a->engine->resolveConflictWith(conflictId, manualMerged().toVariantMap()));
        break;
    case Resolution::None:
        QFAIL("a row needs a resolution");
    }
    QCOMPARE(removed.size(), 1);
    QCOMPARE(removed.constFirst().constFirst().toString(), conflictId);
    QCOMPARE(scenario.a->record(Key), shown(expected));

    DO(settle(scenario));
    Transaction *held = scenario.a->engine->transaction(scenario.localId);
    QVERIFY(held);
    QCOMPARE(held->state(), Transaction::Completed);
    QCOMPARE(held->conflictOutcome(), finalOutcome);
    DO(checkFinal(scenario, expected));

    // Gone for good: not back after another restart either, and the row stays as settled.
    scenario.a->close();
    scenario.a->open();
    QTRY_VERIFY_WITH_TIMEOUT(scenario.a->engine->isReady(), Timeout);
    scenario.a->notes->fetchAll();
    DO(checkFinal(scenario, expected));

    scenario.a.reset();
    scenario.b.reset();
    scenario.c.reset();
    QCOMPARE(scenario.server.stop(), 0);
}

// docs/conflicts.md, Outcomes: a ManualRequired transaction is held and its row "keeps your
// change, syncState: Conflict". On update/delete the change is A's edit of a row the server
// deleted: A's app should go on showing the row as A edited it, marked Conflict, until it is
// resolved — not drop it while ConflictModel still offers "keep mine" for it.
void tst_E2EConflicts::heldUpdateOfADeletedRowStaysVisible()
{
    QFETCH_GLOBAL(SyncCollection::Strategy, strategy);
    PolicySetup setup;
    setup.policy = SyncCollection::Manual;
    setup.strategy = strategy;
    Scenario scenario(setup);
    DO(start(scenario));
    DO(edit(scenario, Edits::UpdateDelete, false));
    DO(syncOnce(*scenario.b, nullptr));
    // conflictDetected fires once the rows show the outcome: no waiting after it.
    QSignalSpy detected(scenario.a->notes.get(), &SyncCollection::conflictDetected);
    DO(syncOnce(*scenario.a, nullptr));
    QVERIFY(!detected.isEmpty() || detected.wait(Timeout));
    QCOMPARE(scenario.a->engine->conflicts().size(), 1);
    QVERIFY(scenario.local);
    QCOMPARE(scenario.local->conflictOutcome(), Transaction::ManualRequired);
    QCOMPARE(scenario.a->record(Key), shown(localRecord()));
    QCOMPARE(scenario.a->meta(Key, "syncState").toInt(), int(SyncCollection::Conflict));
    QCOMPARE(scenario.a->notes->count(), 1);

    scenario.a.reset();
    scenario.b.reset();
    scenario.c.reset();
    QCOMPARE(scenario.server.stop(), 0);
}

QTEST_GUILESS_MAIN(tst_E2EConflicts)
#include "tst_e2econflicts.moc"
