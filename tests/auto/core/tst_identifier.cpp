// SPDX-License-Identifier: BSD-3-Clause
#include <synq/identifier.h>

#include <QtCore/QString>
#include <QtTest/QTest>

using namespace Synq;

class tst_Identifier : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void isValidIdentifier_data();
    void isValidIdentifier();
    void viewsIntoLargerStrings_data();
    void viewsIntoLargerStrings();
    void itemId_data();
    void itemId();
    void itemIdsOfDifferentItemsDiffer_data();
    void itemIdsOfDifferentItemsDiffer();
};

void tst_Identifier::isValidIdentifier_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<bool>("valid");

    // Accepted
    QTest::newRow("a lowercase word is valid") << QStringLiteral("todos") << true;
    QTest::newRow("a single letter is valid") << QStringLiteral("a") << true;
    QTest::newRow("a single capital letter is valid") << QStringLiteral("Z") << true;
    QTest::newRow("a single underscore is valid") << QStringLiteral("_") << true;
    QTest::newRow("a leading underscore is valid") << QStringLiteral("_private") << true;
    QTest::newRow("an underscore followed by a digit is valid") << QStringLiteral("_1") << true;
    QTest::newRow("snake case is valid") << QStringLiteral("created_at") << true;
    QTest::newRow("camel case is valid") << QStringLiteral("createdAt") << true;
    QTest::newRow("digits after the first letter are valid") << QStringLiteral("item2") << true;
    QTest::newRow("all ten digits after a letter are valid")
            << QStringLiteral("x0123456789") << true;
    QTest::newRow("every ASCII letter is valid")
            << QStringLiteral("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") << true;
    QTest::newRow("64 characters is the longest valid name") << QString(64, u'a') << true;
    QTest::newRow("an SQL keyword alone is valid (it is always bound, never spliced)")
            << QStringLiteral("select") << true;
    QTest::newRow("sqlite without the underscore is valid") << QStringLiteral("sqlite") << true;
    QTest::newRow("sqlite followed by a letter is valid") << QStringLiteral("sqlitex") << true;
    QTest::newRow("sqlite_ in the middle is valid") << QStringLiteral("my_sqlite_table") << true;

    // Refused: shape
    QTest::newRow("an empty name is invalid") << QString() << false;
    QTest::newRow("65 characters is too long") << QString(65, u'a') << false;
    QTest::newRow("a very long name is invalid") << QString(1000, u'b') << false;
    QTest::newRow("a leading digit is invalid") << QStringLiteral("1abc") << false;
    QTest::newRow("a lone digit is invalid") << QStringLiteral("7") << false;
    QTest::newRow("a space inside is invalid") << QStringLiteral("first name") << false;
    QTest::newRow("a leading space is invalid") << QStringLiteral(" name") << false;
    QTest::newRow("a trailing space is invalid") << QStringLiteral("name ") << false;
    QTest::newRow("a tab is invalid") << QStringLiteral("a\tb") << false;
    QTest::newRow("a trailing newline is invalid") << QStringLiteral("name\n") << false;
    QTest::newRow("an embedded NUL is invalid") << QString(QStringLiteral("ab") + QChar(0) + u'c')
                                                << false;
    QTest::newRow("a hyphen is invalid") << QStringLiteral("first-name") << false;
    QTest::newRow("a dot is invalid") << QStringLiteral("main.todos") << false;
    QTest::newRow("a dollar sign is invalid") << QStringLiteral("price$") << false;

    // Refused: SQL injection attempts
    QTest::newRow("a statement separator with DROP TABLE is invalid")
            << QStringLiteral("todos; DROP TABLE items") << false;
    QTest::newRow("a single quote is invalid") << QStringLiteral("a'b") << false;
    QTest::newRow("a double quote is invalid") << QStringLiteral("a\"b") << false;
    QTest::newRow("a quoted identifier is invalid") << QStringLiteral("\"todos\"") << false;
    QTest::newRow("a backtick quoted identifier is invalid") << QStringLiteral("`todos`") << false;
    QTest::newRow("a bracket quoted identifier is invalid") << QStringLiteral("[todos]") << false;
    QTest::newRow("a line comment is invalid") << QStringLiteral("x--") << false;
    QTest::newRow("a block comment is invalid") << QStringLiteral("x/**/y") << false;
    QTest::newRow("a classic Bobby Tables name is invalid")
            << QStringLiteral("Robert'); DROP TABLE students;--") << false;
    QTest::newRow("an always-true condition is invalid") << QStringLiteral("1 OR 1=1") << false;
    QTest::newRow("a closing parenthesis and comment is invalid")
            << QStringLiteral("items)--") << false;
    QTest::newRow("a positional parameter is invalid") << QStringLiteral("?") << false;
    QTest::newRow("a named parameter is invalid") << QStringLiteral(":name") << false;
    QTest::newRow("an at-sign parameter is invalid") << QStringLiteral("@name") << false;
    QTest::newRow("a star is invalid") << QStringLiteral("*") << false;
    QTest::newRow("a percent wildcard is invalid") << QStringLiteral("a%") << false;

    // Refused: SQLite's reserved names, in any case
    QTest::newRow("sqlite_master is reserved") << QStringLiteral("sqlite_master") << false;
    QTest::newRow("sqlite_sequence is reserved") << QStringLiteral("sqlite_sequence") << false;
    QTest::newRow("a bare sqlite_ is reserved") << QStringLiteral("sqlite_") << false;
    QTest::newRow("SQLITE_ in capitals is reserved") << QStringLiteral("SQLITE_stat1") << false;
    QTest::newRow("Sqlite_ in mixed case is reserved") << QStringLiteral("Sqlite_x") << false;

    // Refused: non-ASCII letters and digits
    QTest::newRow("an accented letter is invalid") << QStringLiteral(u"café") << false;
    QTest::newRow("a leading accented letter is invalid") << QStringLiteral(u"étage") << false;
    QTest::newRow("a diaeresis inside is invalid") << QStringLiteral(u"naïve") << false;
    QTest::newRow("Cyrillic letters are invalid") << QStringLiteral(u"имя") << false;
    QTest::newRow("a Cyrillic o that looks like a Latin o is invalid")
            << QStringLiteral(u"t\u043edos") << false;
    QTest::newRow("CJK letters are invalid") << QStringLiteral(u"名前") << false;
    QTest::newRow("a full-width letter is invalid") << QStringLiteral(u"Ａbc") << false;
    QTest::newRow("an Arabic-Indic digit is invalid") << QStringLiteral(u"a٣") << false;
    QTest::newRow("a superscript digit is invalid") << QStringLiteral(u"x²") << false;
    QTest::newRow("an emoji is invalid") << QStringLiteral(u"todo😀") << false;
    QTest::newRow("a zero-width space is invalid") << QStringLiteral(u"to\u200bdos") << false;
    QTest::newRow("a non-breaking space is invalid") << QStringLiteral(u"to\u00a0dos") << false;
}

void tst_Identifier::isValidIdentifier()
{
    QFETCH(QString, name);
    QFETCH(bool, valid);

    QCOMPARE(Synq::isValidIdentifier(name), valid);
    QCOMPARE(Synq::isValidIdentifier(QStringView(name)), valid);
}

void tst_Identifier::viewsIntoLargerStrings_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("from");
    QTest::addColumn<int>("length");
    QTest::addColumn<bool>("valid");

    QTest::newRow("a view of a valid word inside a sentence is valid")
            << QStringLiteral("drop todos now") << 5 << 5 << true;
    QTest::newRow("a view that includes the separator is invalid")
            << QStringLiteral("drop todos now") << 4 << 6 << false;
    QTest::newRow("an empty view is invalid") << QStringLiteral("todos") << 2 << 0 << false;
    QTest::newRow("a 64 character view of a longer string is valid")
            << QString(100, u'q') << 10 << 64 << true;
    QTest::newRow("a 65 character view of a longer string is invalid")
            << QString(100, u'q') << 10 << 65 << false;
}

void tst_Identifier::viewsIntoLargerStrings()
{
    QFETCH(QString, text);
    QFETCH(int, from);
    QFETCH(int, length);
    QFETCH(bool, valid);

    QCOMPARE(Synq::isValidIdentifier(QStringView(text).mid(from, length)), valid);
}

void tst_Identifier::itemId_data()
{
    QTest::addColumn<QString>("collection");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("expected");

    QTest::newRow("an item id is the collection, a slash and the key")
            << QStringLiteral("todos") << QStringLiteral("k1") << QStringLiteral("todos/k1");
    QTest::newRow("a key with slashes is kept as it is")
            << QStringLiteral("todos") << QStringLiteral("a/b/") << QStringLiteral("todos/a/b/");
    QTest::newRow("an empty key still gets the slash")
            << QStringLiteral("todos") << QString() << QStringLiteral("todos/");
    QTest::newRow("a key with a NUL character is kept as it is")
            << QStringLiteral("todos") << QString(QStringLiteral("a") + QChar(0) + u'b')
            << QString(QStringLiteral("todos/a") + QChar(0) + u'b');
    QTest::newRow("a non-ASCII key is kept as it is")
            << QStringLiteral("todos") << QStringLiteral(u"café😀")
            << QStringLiteral(u"todos/café😀");
    QTest::newRow("a key of 512 characters is kept whole")
            << QStringLiteral("t") << QString(512, u'k')
            << QString(QStringLiteral("t/") + QString(512, u'k'));
}

void tst_Identifier::itemId()
{
    QFETCH(QString, collection);
    QFETCH(QString, key);
    QFETCH(QString, expected);

    QCOMPARE(Synq::itemId(collection, key), expected);
}

void tst_Identifier::itemIdsOfDifferentItemsDiffer_data()
{
    QTest::addColumn<QString>("collectionA");
    QTest::addColumn<QString>("keyA");
    QTest::addColumn<QString>("collectionB");
    QTest::addColumn<QString>("keyB");

    QTest::newRow("the same key in two collections makes two ids")
            << QStringLiteral("todos") << QStringLiteral("k") << QStringLiteral("lists")
            << QStringLiteral("k");
    QTest::newRow("a slash in the key cannot make it look like another collection's item")
            << QStringLiteral("a") << QStringLiteral("b/c") << QStringLiteral("a_b")
            << QStringLiteral("c");
    QTest::newRow("a collection that is a prefix of another makes another id")
            << QStringLiteral("todo") << QStringLiteral("s/k") << QStringLiteral("todos")
            << QStringLiteral("k");
}

// Collection names are identifiers (no '/'), so the first '/' always ends the collection.
void tst_Identifier::itemIdsOfDifferentItemsDiffer()
{
    QFETCH(QString, collectionA);
    QFETCH(QString, keyA);
    QFETCH(QString, collectionB);
    QFETCH(QString, keyB);

    QVERIFY(Synq::isValidIdentifier(collectionA));
    QVERIFY(Synq::isValidIdentifier(collectionB));
    const QString a = Synq::itemId(collectionA, keyA);
    const QString b = Synq::itemId(collectionB, keyB);
    QVERIFY2(a != b, qPrintable(a));
    QCOMPARE(a.left(a.indexOf(u'/')), collectionA);
    QCOMPARE(b.left(b.indexOf(u'/')), collectionB);
}

QTEST_GUILESS_MAIN(tst_Identifier)
#include "tst_identifier.moc"
