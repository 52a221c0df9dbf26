// SPDX-License-Identifier: BSD-3-Clause
// Synq::PushRules: the push rules synq-server and TestBackend share (docs/protocol.md, Push).

#include "pushmutations.h"

#include <synq/pushrules.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtTest/QTest>

#include "testprinters.h"

#include <optional>

using namespace Synq;
using PushRules::Problem;
using PushRules::RecordState;
using PushRules::Verdict;
using SynqTest::mutation;

using Base = std::optional<qint64>;
using Text = std::optional<QString>;
using Record = std::optional<QJsonObject>;

// std::optional of a Qt type: found through the Qt type (its namespace is associated).
char *toString(const Text &text)
{
    return text ? QTest::toString(*text) : qstrdup("(fine)");
}

char *toString(const Record &record)
{
    return record ? toString(*record) : qstrdup("(none)");
}

namespace {

// One step of a batch's bookkeeping.
struct Step
{
    enum Kind { Applied, Keep, Undo, Clear };
    Kind kind = Applied;
    QString collection;
    QString requestKey;
    QString key;
    qint64 version = 0;
};

Step applied(const char *collection, const char *key, qint64 version,
             const char *serverKey = nullptr)
{
    return Step { Step::Applied, QString::fromUtf8(collection), QString::fromUtf8(key),
                  QString::fromUtf8(serverKey ? serverKey : key), version };
}

const Step keep { Step::Keep, {}, {}, {}, 0 };
const Step undo { Step::Undo, {}, {}, {}, 0 };
const Step clear { Step::Clear, {}, {}, {}, 0 };

QString s(const char *text)
{
    return QString::fromUtf8(text);
}

QJsonObject todo(const char *title, bool done)
{
    return { { s("title"), s(title) }, { s("done"), done } };
}

// A version to check against, or none; compared as text for readable failures.
QString show(Base version)
{
    return version ? QString::number(*version) : QStringLiteral("(unchecked)");
}

// A (field, text) problem as one line, or "(fine)".
QString describe(const std::optional<Problem> &problem)
{
    if (!problem)
        return s("(fine)");
    return QStringLiteral("%1 [%2]").arg(problem->message()).arg(problem->httpStatus);
}

Protocol::PushRequest request(const QList<Protocol::PushMutation> &mutations,
                              const char *batch = "b", const char *client = "")
{
    Protocol::PushRequest r;
    r.client = s(client);
    r.batch = s(batch);
    r.mutations = mutations;
    return r;
}

} // namespace

Q_DECLARE_METATYPE(Base)
Q_DECLARE_METATYPE(Text)
Q_DECLARE_METATYPE(Record)
Q_DECLARE_METATYPE(Synq::MutationType)
Q_DECLARE_METATYPE(Synq::PushRules::RecordState)
Q_DECLARE_METATYPE(Synq::PushRules::Verdict)
Q_DECLARE_METATYPE(Step)
Q_DECLARE_METATYPE(Synq::Protocol::PushRequest)
Q_DECLARE_METATYPE(Synq::Protocol::FetchResponse::Status)

class tst_PushRules : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void expectedVersion_data();
    void expectedVersion();
    void verdict_data();
    void verdict();
    void applyChanges_data();
    void applyChanges();
    void written_data();
    void written();
    void conflict_data();
    void conflict();
    void abortedMessage();
    void batch_data();
    void batch();

    void checkText_data();
    void checkText();
    void checkCollection_data();
    void checkCollection();
    void checkBaseVersion_data();
    void checkBaseVersion();
    void checkChanges_data();
    void checkChanges();
    void checkMutationCount_data();
    void checkMutationCount();
    void batchShape_data();
    void batchShape();
    void checkPush_data();
    void checkPush();

    // fetching one record
    void checkFetch_data();
    void checkFetch();
    void fetchAnswer_data();
    void fetchAnswer();
};

// --- the rules of one mutation ---------------------------------------------------------------

void tst_PushRules::expectedVersion_data()
{
    QTest::addColumn<Base>("baseVersion");
    QTest::addColumn<Base>("produced");
    QTest::addColumn<Base>("expected");

    QTest::newRow("a mutation nothing in the batch came before is checked against its base")
            << Base(17) << Base() << Base(17);
    QTest::newRow("a base of 0 is a check too (the client never saw the key synced)")
            << Base(0) << Base() << Base(0);
    QTest::newRow("an unchecked mutation stays unchecked") << Base() << Base() << Base();
    QTest::newRow("an unchecked mutation stays unchecked after an earlier write of its key")
            << Base() << Base(20) << Base();
    QTest::newRow("after an earlier write an older base is checked against what it produced")
            << Base(17) << Base(20) << Base(20);
    QTest::newRow("after an earlier write a base equal to what it produced stays")
            << Base(20) << Base(20) << Base(20);
    QTest::newRow("after an earlier write a base from the future is checked against it too")
            << Base(99) << Base(20) << Base(20);
    QTest::newRow("after an earlier insert a base of 0 follows it") << Base(0) << Base(1)
                                                                    << Base(1);
}

void tst_PushRules::expectedVersion()
{
    QFETCH(Base, baseVersion);
    QFETCH(Base, produced);
    QFETCH(Base, expected);

    QCOMPARE(show(PushRules::expectedVersion(baseVersion, produced)), show(expected));
}

void tst_PushRules::verdict_data()
{
    QTest::addColumn<MutationType>("op");
    QTest::addColumn<RecordState>("current");
    QTest::addColumn<Base>("expected");
    QTest::addColumn<Verdict>("verdict");

    const RecordState missing = RecordState::missing();
    const RecordState live = RecordState::live(5, todo("Milk", false));
    const RecordState removed = RecordState::removed(5);
    const MutationType insert = MutationType::Insert;
    const MutationType update = MutationType::Update;
    const MutationType remove = MutationType::Remove;
    const Verdict apply = Verdict::Apply;
    const Verdict conflict = Verdict::Conflict;
    auto row = [](const char *tag, MutationType op, const RecordState &current, Base expected,
                  Verdict verdict) {
        QTest::newRow(tag) << op << current << expected << verdict;
    };

    row("an insert of a never-written key is applied", insert, missing, 0, apply);
    row("an insert of a never-written key is applied whatever its base", insert, missing, 3,
        apply);
    row("an unchecked insert of a never-written key is applied", insert, missing, {}, apply);
    row("an insert on a live key conflicts", insert, live, 0, conflict);
    row("an insert on a live key conflicts even at the record's version", insert, live, 5,
        conflict);
    row("an unchecked insert on a live key overwrites it", insert, live, {}, apply);
    row("an insert on a removed key writes it anew", insert, removed, 0, apply);
    row("an insert on a removed key at the tombstone's version writes it anew", insert, removed,
        5, apply);
    row("an unchecked insert on a removed key writes it anew", insert, removed, {}, apply);

    row("an update of a never-written key conflicts", update, missing, 0, conflict);
    row("an update of a never-written key conflicts whatever its base", update, missing, 3,
        conflict);
    row("an unchecked update of a never-written key conflicts", update, missing, {}, conflict);
    row("an update at the live record's version is applied", update, live, 5, apply);
    row("an update at an older version than the live record's conflicts", update, live, 4,
        conflict);
    row("an update at a newer version than the live record's conflicts", update, live, 6,
        conflict);
    row("an unchecked update of a live record is applied", update, live, {}, apply);
    row("an update of a removed key conflicts", update, removed, 4, conflict);
    row("an update of a removed key at the tombstone's version conflicts", update, removed, 5,
        conflict);
    row("an unchecked update of a removed key conflicts", update, removed, {}, conflict);

    row("a remove of a never-written key writes a tombstone", remove, missing, 0, apply);
    row("a remove of a never-written key writes a tombstone whatever its base", remove, missing,
        3, apply);
    row("an unchecked remove of a never-written key writes a tombstone", remove, missing, {},
        apply);
    row("a remove at the live record's version is applied", remove, live, 5, apply);
    row("a remove at another version than the live record's conflicts", remove, live, 4,
        conflict);
    row("an unchecked remove of a live record is applied", remove, live, {}, apply);
    row("a remove of a removed key writes a new tombstone", remove, removed, 4, apply);
    row("a remove of a removed key at the tombstone's version writes a new tombstone", remove,
        removed, 5, apply);
    row("an unchecked remove of a removed key writes a new tombstone", remove, removed, {},
        apply);
}

void tst_PushRules::verdict()
{
    QFETCH(MutationType, op);
    QFETCH(RecordState, current);
    QFETCH(Base, expected);
    QFETCH(Verdict, verdict);

    QCOMPARE(PushRules::verdict(op, current, expected), verdict);
}

void tst_PushRules::applyChanges_data()
{
    QTest::addColumn<QJsonObject>("base");
    QTest::addColumn<QJsonObject>("changes");
    QTest::addColumn<QJsonObject>("expected");

    const QJsonObject base = todo("Milk", false);
    const QJsonObject oslo { { s("city"), s("Oslo") }, { s("zip"), s("0150") } };
    const QJsonObject bergen { { s("city"), s("Bergen") } };

    QTest::newRow("no changes leave the base as it was") << base << QJsonObject() << base;
    QTest::newRow("changes on an empty base are the whole result")
            << QJsonObject() << base << base;
    QTest::newRow("a changed field takes the new value and the others stay")
            << base << QJsonObject { { s("done"), true } } << todo("Milk", true);
    QTest::newRow("a new field is added")
            << base << QJsonObject { { s("tag"), s("shop") } }
            << QJsonObject { { s("title"), s("Milk") }, { s("done"), false },
                             { s("tag"), s("shop") } };
    QTest::newRow("a null value sets the field to null instead of removing it")
            << base << QJsonObject { { s("title"), QJsonValue::Null } }
            << QJsonObject { { s("title"), QJsonValue::Null }, { s("done"), false } };
    QTest::newRow("a null value for a missing field adds a null field")
            << base << QJsonObject { { s("due"), QJsonValue::Null } }
            << QJsonObject { { s("title"), s("Milk") }, { s("done"), false },
                             { s("due"), QJsonValue::Null } };
    QTest::newRow("a value can replace a null")
            << QJsonObject { { s("due"), QJsonValue::Null } }
            << QJsonObject { { s("due"), s("2024-01-01") } }
            << QJsonObject { { s("due"), s("2024-01-01") } };
    QTest::newRow("a field can change its type")
            << QJsonObject { { s("n"), 1 } } << QJsonObject { { s("n"), s("one") } }
            << QJsonObject { { s("n"), s("one") } };
    QTest::newRow("a nested object is replaced as a whole, not merged")
            << QJsonObject { { s("address"), oslo } } << QJsonObject { { s("address"), bergen } }
            << QJsonObject { { s("address"), bergen } };
    QTest::newRow("an array is replaced as a whole")
            << QJsonObject { { s("tags"), QJsonArray { 1, 2, 3 } } }
            << QJsonObject { { s("tags"), QJsonArray { 4 } } }
            << QJsonObject { { s("tags"), QJsonArray { 4 } } };
    QTest::newRow("several fields change at once")
            << base << QJsonObject { { s("title"), s("Bread") }, { s("done"), true } }
            << todo("Bread", true);
}

void tst_PushRules::applyChanges()
{
    QFETCH(QJsonObject, base);
    QFETCH(QJsonObject, changes);
    QFETCH(QJsonObject, expected);

    QCOMPARE(PushRules::applyChanges(base, changes), expected);
}

void tst_PushRules::written_data()
{
    QTest::addColumn<MutationType>("op");
    QTest::addColumn<RecordState>("current");
    QTest::addColumn<QJsonObject>("data");
    QTest::addColumn<Record>("expected");

    const QJsonObject milk = todo("Milk", false);
    const QJsonObject bread = todo("Bread", true);
    const QJsonObject done { { s("done"), true } };

    QTest::newRow("an insert writes its data on a never-written key")
            << MutationType::Insert << RecordState::missing() << milk << Record(milk);
    QTest::newRow("an insert writes its data over a live record, nothing of it merged")
            << MutationType::Insert << RecordState::live(3, QJsonObject { { s("tag"), 1 } })
            << milk << Record(milk);
    QTest::newRow("an insert writes its data over a tombstone")
            << MutationType::Insert << RecordState::removed(3) << bread << Record(bread);
    QTest::newRow("an update writes the live record with its changes applied")
            << MutationType::Update << RecordState::live(3, milk) << done
            << Record(todo("Milk", true));
    QTest::newRow("a remove writes a tombstone")
            << MutationType::Remove << RecordState::live(3, milk) << QJsonObject() << Record();
    QTest::newRow("a remove of a gone key writes a tombstone")
            << MutationType::Remove << RecordState::removed(3) << QJsonObject() << Record();
}

void tst_PushRules::written()
{
    QFETCH(MutationType, op);
    QFETCH(RecordState, current);
    QFETCH(QJsonObject, data);
    QFETCH(Record, expected);

    QCOMPARE(PushRules::written(op, current, data), expected);
}

void tst_PushRules::conflict_data()
{
    QTest::addColumn<MutationType>("op");
    QTest::addColumn<RecordState>("current");
    QTest::addColumn<Base>("baseVersion");
    QTest::addColumn<qint64>("version");
    QTest::addColumn<Record>("record");
    QTest::addColumn<bool>("deleted");
    QTest::addColumn<QString>("message");

    const QJsonObject milk = todo("Milk", false);
    const RecordState live = RecordState::live(19, milk);

    QTest::newRow("an insert on a live key shows the record and says it exists")
            << MutationType::Insert << live << Base(0) << qint64(19) << Record(milk) << false
            << s("k1 already exists at version 19");
    QTest::newRow("a stale update shows the record and both versions")
            << MutationType::Update << live << Base(17) << qint64(19) << Record(milk) << false
            << s("k1 is at version 19, not 17");
    QTest::newRow("a stale remove shows the record and both versions")
            << MutationType::Remove << live << Base(20) << qint64(19) << Record(milk) << false
            << s("k1 is at version 19, not 20");
    QTest::newRow("an unchecked base is named null")
            << MutationType::Update << live << Base() << qint64(19) << Record(milk) << false
            << s("k1 is at version 19, not null");
    QTest::newRow("base matches after the rollback: an earlier mutation of the push changed it")
            << MutationType::Update << live << Base(19) << qint64(19) << Record(milk) << false
            << s("k1 at version 19 was changed by an earlier mutation of the same push");
    QTest::newRow("an update of a never-written key is deleted at version 0")
            << MutationType::Update << RecordState::missing() << Base(0) << qint64(0) << Record()
            << true << s("k1 does not exist");
    QTest::newRow("an update of a removed key is deleted at the tombstone's version")
            << MutationType::Update << RecordState::removed(12) << Base(12) << qint64(12)
            << Record() << true << s("k1 was removed at version 12");
}

void tst_PushRules::conflict()
{
    QFETCH(MutationType, op);
    QFETCH(RecordState, current);
    QFETCH(Base, baseVersion);
    QFETCH(qint64, version);
    QFETCH(Record, record);
    QFETCH(bool, deleted);
    QFETCH(QString, message);

    const PushRules::Conflict c = PushRules::conflict(op, s("k1"), current, baseVersion);
    QCOMPARE(c.version, version);
    QCOMPARE(c.record, record);
    QCOMPARE(c.deleted, deleted);
    QCOMPARE(c.message, message);
}

void tst_PushRules::abortedMessage()
{
    QCOMPARE(PushRules::abortedMessage(s("m2"), s("t1"), s("conflict")),
             s("not applied: mutation m2 of transaction t1 ended in conflict"));
    QCOMPARE(PushRules::abortedMessage(s("m9"), s("tx-7"), s("rejected")),
             s("not applied: mutation m9 of transaction tx-7 ended in rejected"));
}

// --- the batch's bookkeeping -----------------------------------------------------------------

void tst_PushRules::batch_data()
{
    QTest::addColumn<QList<Step>>("steps");
    QTest::addColumn<QString>("collection");
    QTest::addColumn<QString>("key"); // as the mutation names it
    QTest::addColumn<Base>("baseVersion");
    QTest::addColumn<QString>("serverKey");
    QTest::addColumn<Base>("expected");

    using L = QList<Step>;
    const QString todos = s("todos");
    const QString a = s("a");
    auto row = [&](const char *tag, const L &steps, Base base, Base expected) {
        QTest::newRow(tag) << steps << todos << a << base << a << expected;
    };

    row("with nothing applied yet a mutation is checked against its own base", L(), 3, 3);
    row("a mutation on a key the batch wrote is checked against the version produced",
        L { applied("todos", "a", 6), keep }, 3, 6);
    row("an unchecked mutation stays unchecked after a write of its key",
        L { applied("todos", "a", 6), keep }, {}, {});
    row("the last of several writes of a key counts",
        L { applied("todos", "a", 6), applied("todos", "a", 7), keep }, 6, 7);
    row("a write of another key does not count", L { applied("todos", "b", 6), keep }, 3, 3);
    row("a write of the same key in another collection does not count",
        L { applied("lists", "a", 6), keep }, 3, 3);
    row("facts not kept yet count within their own transaction", L { applied("todos", "a", 6) },
        3, 6);
    row("undo forgets the facts of a transaction that was rolled back",
        L { applied("todos", "a", 6), undo }, 3, 3);
    row("undo brings back what an earlier transaction produced",
        L { applied("todos", "a", 6), keep, applied("todos", "a", 7), undo }, 3, 6);
    row("undo takes back several writes of one key",
        L { applied("todos", "a", 6), keep, applied("todos", "a", 7), applied("todos", "a", 8),
            applied("todos", "b", 9), undo },
        3, 6);
    row("undo after keep forgets nothing", L { applied("todos", "a", 6), keep, undo }, 3, 6);
    row("a second undo forgets nothing more",
        L { applied("todos", "a", 6), keep, applied("todos", "a", 7), undo, undo }, 3, 6);
    row("facts after an undo count again",
        L { applied("todos", "a", 6), undo, applied("todos", "a", 8), keep }, 3, 8);
    row("clear forgets everything, kept or not",
        L { applied("todos", "a", 6), keep, applied("todos", "a", 7), clear }, 3, 3);
    row("a result noted under the same key assigns nothing",
        L { applied("todos", "a", 6, "a"), keep }, 0, 6);

    QTest::newRow("a server-assigned key redirects later mutations on the client's key")
            << L { applied("todos", "a", 6, "s6"), keep } << todos << a << Base(0) << s("s6")
            << Base(6);
    QTest::newRow("a mutation on the server-assigned key itself finds its version")
            << L { applied("todos", "a", 6, "s6"), keep } << todos << s("s6") << Base(0)
            << s("s6") << Base(6);
    QTest::newRow("an assignment that was undone no longer redirects")
            << L { applied("todos", "a", 6, "s6"), undo } << todos << a << Base(0) << a
            << Base(0);
    QTest::newRow("an assignment in another collection does not redirect")
            << L { applied("lists", "a", 6, "s6"), keep } << todos << a << Base(0) << a
            << Base(0);
    QTest::newRow("a later write of the server key counts for the client's key")
            << L { applied("todos", "a", 6, "s6"), keep, applied("todos", "s6", 7), keep }
            << todos << a << Base(6) << s("s6") << Base(7);
}

void tst_PushRules::batch()
{
    QFETCH(QList<Step>, steps);
    QFETCH(QString, collection);
    QFETCH(QString, key);
    QFETCH(Base, baseVersion);
    QFETCH(QString, serverKey);
    QFETCH(Base, expected);

    PushRules::Batch batch;
    for (const Step &step : std::as_const(steps)) {
        switch (step.kind) {
        case Step::Applied:
            batch.noteApplied(step.collection, step.requestKey, step.key, step.version);
            break;
        case Step::Keep:
            batch.keep();
            break;
        case Step::Undo:
            batch.undo();
            break;
        case Step::Clear:
            batch.clear();
            break;
        }
    }
    const QString gotKey = batch.serverKey(collection, key);
    QCOMPARE(gotKey, serverKey);
    QCOMPARE(show(batch.expectedVersion(collection, gotKey, baseVersion)), show(expected));
}

// --- validation ------------------------------------------------------------------------------

void tst_PushRules::checkText_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("maxLength");
    QTest::addColumn<Text>("problem");

    const Text tooLong128 = s("must be 1 to 128 characters");
    const Text dirty = s("contains NUL or invalid UTF-16");
    const QString emoji = QStringLiteral(u"😀"); // two UTF-16 units

    QTest::newRow("a short id is fine") << s("m1") << 128 << Text();
    QTest::newRow("an empty id is refused") << QString() << 128 << tooLong128;
    QTest::newRow("an id of 128 characters is fine") << QString(128, u'i') << 128 << Text();
    QTest::newRow("an id of 129 characters is refused") << QString(129, u'i') << 128
                                                        << tooLong128;
    QTest::newRow("a key of 512 characters is fine") << QString(512, u'k') << 512 << Text();
    QTest::newRow("a key of 513 characters is refused")
            << QString(513, u'k') << 512 << Text(s("must be 1 to 512 characters"));
    QTest::newRow("64 emoji are 128 UTF-16 units and fit") << emoji.repeated(64) << 128 << Text();
    QTest::newRow("65 emoji are 130 UTF-16 units and do not fit")
            << emoji.repeated(65) << 128 << tooLong128;
    QTest::newRow("a NUL character is refused") << QString(s("a") + QChar(0) + u'b') << 128
                                                << dirty;
    QTest::newRow("a lone NUL character is refused") << QString(QChar(0)) << 128 << dirty;
    QTest::newRow("a lone high surrogate is refused") << QString(QChar(0xd83d)) << 128 << dirty;
    QTest::newRow("a lone low surrogate is refused")
            << QString(s("a") + QChar(0xde00)) << 128 << dirty;
    QTest::newRow("a too long text is refused for its length first")
            << QString(129, QChar(0)) << 128 << tooLong128;
    QTest::newRow("non-ASCII text is fine") << QStringLiteral(u"café-名前") << 128 << Text();
}

void tst_PushRules::checkText()
{
    QFETCH(QString, text);
    QFETCH(int, maxLength);
    QFETCH(Text, problem);

    QCOMPARE(PushRules::checkText(text, maxLength), problem);
}

void tst_PushRules::checkCollection_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<bool>("fine");

    QTest::newRow("an identifier is a collection name") << s("todos") << true;
    QTest::newRow("an underscore and digits are fine") << s("_todo_2") << true;
    QTest::newRow("a dash is refused") << s("to-dos") << false;
    QTest::newRow("a leading digit is refused") << s("1todos") << false;
    QTest::newRow("an empty name is refused") << QString() << false;
    QTest::newRow("65 characters are refused") << QString(65, u'c') << false;
    QTest::newRow("SQLite's own names are refused") << s("sqlite_master") << false;
    QTest::newRow("a slash is refused (item ids rely on it)") << s("a/b") << false;
    QTest::newRow("SQL is refused") << s("todos; DROP TABLE records") << false;
}

void tst_PushRules::checkCollection()
{
    QFETCH(QString, name);
    QFETCH(bool, fine);

    QCOMPARE(PushRules::checkCollection(name),
             fine ? Text()
                  : Text(s("not an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 characters, "
                           "not starting with sqlite_)")));
}

void tst_PushRules::checkBaseVersion_data()
{
    QTest::addColumn<QJsonValue>("value");
    QTest::addColumn<Text>("problem");

    const Text notInteger = s("not an integer >= 0, or null");
    QTest::newRow("null is fine (no check)") << QJsonValue(QJsonValue::Null) << Text();
    QTest::newRow("0 is fine (never synced)") << QJsonValue(0) << Text();
    QTest::newRow("a version is fine") << QJsonValue(17) << Text();
    QTest::newRow("2^53 - 1 is the largest fine version")
            << QJsonValue(9007199254740991.0) << Text();
    QTest::newRow("2^53 is refused") << QJsonValue(9007199254740992.0) << notInteger;
    QTest::newRow("1e300 is refused") << QJsonValue(1e300) << notInteger;
    QTest::newRow("a qint64 beyond 2^53 is refused") << QJsonValue(qint64(1) << 60) << notInteger;
    QTest::newRow("a negative number is refused") << QJsonValue(-1) << notInteger;
    QTest::newRow("a fraction is refused") << QJsonValue(1.5) << notInteger;
    QTest::newRow("a string of digits is refused") << QJsonValue(s("3")) << notInteger;
    QTest::newRow("a boolean is refused") << QJsonValue(true) << notInteger;
    QTest::newRow("an object is refused") << QJsonValue(QJsonObject()) << notInteger;
    QTest::newRow("a missing base is refused with what it should be")
            << QJsonValue(QJsonValue::Undefined) << Text(s("missing (an integer >= 0, or null)"));
}

void tst_PushRules::checkBaseVersion()
{
    QFETCH(QJsonValue, value);
    QFETCH(Text, problem);

    QCOMPARE(PushRules::checkBaseVersion(value), problem);
}

void tst_PushRules::checkChanges_data()
{
    QTest::addColumn<QJsonObject>("changes");
    QTest::addColumn<Text>("problem");

    QTest::newRow("empty changes are refused") << QJsonObject() << Text(s("empty"));
    QTest::newRow("one field is fine") << QJsonObject { { s("done"), true } } << Text();
    QTest::newRow("a field set to null is fine")
            << QJsonObject { { s("due"), QJsonValue::Null } } << Text();
}

void tst_PushRules::checkChanges()
{
    QFETCH(QJsonObject, changes);
    QFETCH(Text, problem);

    QCOMPARE(PushRules::checkChanges(changes), problem);
}

void tst_PushRules::checkMutationCount_data()
{
    QTest::addColumn<int>("count");
    QTest::addColumn<QString>("problem");

    QTest::newRow("no mutations are refused") << 0 << s("mutations: empty (1 to 500 items) [400]");
    QTest::newRow("one mutation is fine") << 1 << s("(fine)");
    QTest::newRow("500 mutations are fine") << 500 << s("(fine)");
    QTest::newRow("501 mutations are too large: split the batch")
            << 501 << s("mutations: 501 items, at most 500 per push: split the batch [413]");
}

void tst_PushRules::checkMutationCount()
{
    QFETCH(int, count);
    QFETCH(QString, problem);

    QCOMPARE(describe(PushRules::checkMutationCount(count)), problem);
}

void tst_PushRules::batchShape_data()
{
    QTest::addColumn<QStringList>("mutations"); // "id:tx"
    QTest::addColumn<QString>("problem"); // of the last one; the others are fine

    QTest::newRow("distinct ids in one transaction are fine")
            << QStringList { s("m1:A"), s("m2:A"), s("m3:A") } << s("(fine)");
    QTest::newRow("adjacent transactions are fine")
            << QStringList { s("m1:A"), s("m2:A"), s("m3:B"), s("m4:B") } << s("(fine)");
    QTest::newRow("an id twice is refused where it comes again")
            << QStringList { s("m1:A"), s("m2:B"), s("m1:C") }
            << s("mutations[2].id: the same id as mutations[0] [400]");
    QTest::newRow("an id twice in one transaction is refused")
            << QStringList { s("m1:A"), s("m1:A") }
            << s("mutations[1].id: the same id as mutations[0] [400]");
    QTest::newRow("a transaction resumed after another is refused")
            << QStringList { s("m1:A"), s("m2:B"), s("m3:A") }
            << s("mutations[2].tx: transaction A is not adjacent: its mutations must follow "
                 "each other [400]");
    QTest::newRow("a transaction resumed after two others is refused")
            << QStringList { s("m1:A"), s("m2:B"), s("m3:C"), s("m4:A") }
            << s("mutations[3].tx: transaction A is not adjacent: its mutations must follow "
                 "each other [400]");
    QTest::newRow("a repeated id is found before a resumed transaction")
            << QStringList { s("m1:A"), s("m2:B"), s("m1:A") }
            << s("mutations[2].id: the same id as mutations[0] [400]");
    QTest::newRow("a transaction may share its name with a mutation id")
            << QStringList { s("m1:m1"), s("m2:m1"), s("m3:m2") } << s("(fine)");
}

void tst_PushRules::batchShape()
{
    QFETCH(QStringList, mutations);
    QFETCH(QString, problem);

    PushRules::BatchShape shape;
    for (qsizetype i = 0; i < mutations.size(); ++i) {
        const QStringList parts = mutations.at(i).split(u':');
        const std::optional<Problem> got = shape.add(i, parts.at(0), parts.at(1));
        if (i + 1 < mutations.size())
            QCOMPARE(describe(got), s("(fine)"));
        else
            QCOMPARE(describe(got), problem);
    }
}

void tst_PushRules::checkPush_data()
{
    QTest::addColumn<Protocol::PushRequest>("push");
    QTest::addColumn<QString>("problem");

    using L = QList<Protocol::PushMutation>;
    const QJsonObject milk = todo("Milk", false);
    const Protocol::PushMutation ok =
            mutation("m0", "t0", MutationType::Insert, "z", 0, milk);
    auto withNul = [](const char *text) { return QString(s(text) + QChar(0)); };

    QTest::newRow("a push of valid mutations is fine")
            << request(L { ok, mutation("m1", "t1", MutationType::Update, "a", 3, milk),
                           mutation("m2", "t1", MutationType::Remove, "b", {}) })
            << s("(fine)");
    QTest::newRow("an insert with empty data is fine")
            << request(L { mutation("m1", "t1", MutationType::Insert, "a", 0) }) << s("(fine)");
    QTest::newRow("a remove carries no data and needs none")
            << request(L { mutation("m1", "t1", MutationType::Remove, "a", 0) }) << s("(fine)");
    QTest::newRow("a client id of 129 characters is refused")
            << request(L { ok }, "b", QByteArray(129, 'c').constData())
            << s("client: must be 1 to 128 characters [400]");
    QTest::newRow("an empty batch id is refused")
            << request(L { ok }, "") << s("batch: must be 1 to 128 characters [400]");
    QTest::newRow("a push of no mutations is refused")
            << request(L()) << s("mutations: empty (1 to 500 items) [400]");
    QTest::newRow("501 mutations are refused as too large")
            << request(L(501, ok))
            << s("mutations: 501 items, at most 500 per push: split the batch [413]");
    QTest::newRow("an empty mutation id is refused")
            << request(L { ok, mutation("", "t1", MutationType::Insert, "a", 0) })
            << s("mutations[1].id: must be 1 to 128 characters [400]");
    QTest::newRow("a transaction id with NUL is refused")
            << request(L { ok, [&] {
                   Protocol::PushMutation m = mutation("m1", "", MutationType::Insert, "a", 0);
                   m.tx = withNul("t");
                   return m;
               }() })
            << s("mutations[1].tx: contains NUL or invalid UTF-16 [400]");
    QTest::newRow("a mutation id twice is refused")
            << request(L { ok, mutation("m0", "t1", MutationType::Insert, "a", 0) })
            << s("mutations[1].id: the same id as mutations[0] [400]");
    QTest::newRow("a transaction that is not adjacent is refused")
            << request(L { ok, mutation("m1", "t1", MutationType::Insert, "a", 0),
                           mutation("m2", "t0", MutationType::Insert, "b", 0) })
            << s("mutations[2].tx: transaction t0 is not adjacent: its mutations must follow "
                 "each other [400]");
    QTest::newRow("a collection that is not an identifier is refused")
            << request(L { ok, mutation("m1", "t1", MutationType::Insert, "a", 0, {}, "to-dos") })
            << s("mutations[1].collection: not an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 "
                 "characters, not starting with sqlite_) [400]");
    QTest::newRow("an empty key is refused")
            << request(L { ok, mutation("m1", "t1", MutationType::Insert, "", 0) })
            << s("mutations[1].key: must be 1 to 512 characters [400]");
    QTest::newRow("a negative base version is refused")
            << request(L { ok, mutation("m1", "t1", MutationType::Remove, "a", -1) })
            << s("mutations[1].baseVersion: not an integer >= 0, or null [400]");
    QTest::newRow("an update without changes is refused")
            << request(L { ok, mutation("m1", "t1", MutationType::Update, "a", 1) })
            << s("mutations[1].changes: empty [400]");
    QTest::newRow("the first defect of a mutation is the one reported")
            << request(L { ok, mutation("m1", "t1", MutationType::Update, "", -1, {}, "1x") })
            << s("mutations[1].collection: not an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 "
                 "characters, not starting with sqlite_) [400]");
    QTest::newRow("the first defective mutation is the one reported")
            << request(L { ok, mutation("m1", "t1", MutationType::Update, "a", 1),
                           mutation("m2", "t2", MutationType::Insert, "", 0) })
            << s("mutations[1].changes: empty [400]");
    QTest::newRow("the batch is checked before the mutations")
            << request(L(), "") << s("batch: must be 1 to 128 characters [400]");
}

void tst_PushRules::checkPush()
{
    QFETCH(Protocol::PushRequest, push);
    QFETCH(QString, problem);

    QCOMPARE(describe(PushRules::checkPush(push)), problem);
}

// --- fetching one record --------------------------------------------------------------------

void tst_PushRules::checkFetch_data()
{
    QTest::addColumn<QString>("collection");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("problem");

    QTest::newRow("a collection and a key are fine") << s("todos") << s("k1") << s("(fine)");
    QTest::newRow("a key of 512 characters is fine")
            << s("todos") << QString(512, u'k') << s("(fine)");
    QTest::newRow("a key with reserved URL characters is fine")
            << s("todos") << s("a+b c&d=%25?#/") << s("(fine)");
    QTest::newRow("a collection that is not an identifier is refused")
            << s("to-dos") << s("k1")
            << s("collection: not an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 characters, "
                 "not starting with sqlite_) [400]");
    QTest::newRow("an empty collection is refused")
            << QString() << s("k1")
            << s("collection: not an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 characters, "
                 "not starting with sqlite_) [400]");
    QTest::newRow("an empty key is refused")
            << s("todos") << QString() << s("key: must be 1 to 512 characters [400]");
    QTest::newRow("a key of 513 characters is refused")
            << s("todos") << QString(513, u'k') << s("key: must be 1 to 512 characters [400]");
    QTest::newRow("a key with a NUL is refused")
            << s("todos") << QString(QStringLiteral("a") + QChar(0) + QStringLiteral("b"))
            << s("key: contains NUL or invalid UTF-16 [400]");
    QTest::newRow("a key with a lone surrogate is refused")
            << s("todos") << QString(QChar(0xd800))
            << s("key: contains NUL or invalid UTF-16 [400]");
    QTest::newRow("the collection is checked before the key")
            << s("1x") << QString()
            << s("collection: not an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 characters, "
                 "not starting with sqlite_) [400]");
}

void tst_PushRules::checkFetch()
{
    QFETCH(QString, collection);
    QFETCH(QString, key);
    QFETCH(QString, problem);

    QCOMPARE(describe(PushRules::checkFetch(Protocol::FetchRequest { collection, key })), problem);
}

void tst_PushRules::fetchAnswer_data()
{
    using Status = Protocol::FetchResponse::Status;
    QTest::addColumn<RecordState>("current");
    QTest::addColumn<QString>("hlc");
    QTest::addColumn<Status>("status");
    QTest::addColumn<qint64>("version");
    QTest::addColumn<QJsonObject>("data");
    QTest::addColumn<QString>("answeredHlc");

    const QString stamp = s("001764766000000:000003:device-a");
    QTest::newRow("a live record is found with its version, data and stamp")
            << RecordState::live(19, todo("Milk", false)) << stamp << Status::Found << qint64(19)
            << todo("Milk", false) << stamp;
    QTest::newRow("a live record written without a stamp is found without one")
            << RecordState::live(19, todo("Milk", false)) << QString() << Status::Found
            << qint64(19) << todo("Milk", false) << QString();
    QTest::newRow("a tombstone is gone with its version and the remove's stamp")
            << RecordState::removed(42) << stamp << Status::Gone << qint64(42) << QJsonObject()
            << stamp;
    QTest::newRow("a key never written is missing: no version, no stamp")
            << RecordState::missing() << stamp << Status::Missing << qint64(0) << QJsonObject()
            << QString();
}

void tst_PushRules::fetchAnswer()
{
    using Status = Protocol::FetchResponse::Status;
    QFETCH(RecordState, current);
    QFETCH(QString, hlc);
    QFETCH(Status, status);
    QFETCH(qint64, version);
    QFETCH(QJsonObject, data);
    QFETCH(QString, answeredHlc);

    const Protocol::FetchResponse answer = PushRules::fetchAnswer(s("k1"), current, hlc);
    QCOMPARE(answer.key, s("k1"));
    QCOMPARE(answer.status, status);
    QCOMPARE(answer.version, version);
    QCOMPARE(answer.data, data);
    QCOMPARE(answer.hlc, answeredHlc);
}

QTEST_GUILESS_MAIN(tst_PushRules)
#include "tst_pushrules.moc"
