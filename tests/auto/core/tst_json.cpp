// SPDX-License-Identifier: BSD-3-Clause
#include <synq/json.h>

#include <QtCore/QBitArray>
#include <QtCore/QByteArrayList>
#include <QtCore/QDate>
#include <QtCore/QDateTime>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QLocale>
#include <QtCore/QObject>
#include <QtCore/QPoint>
#include <QtCore/QRect>
#include <QtCore/QRegularExpression>
#include <QtCore/QSize>
#include <QtCore/QTime>
#include <QtCore/QTimeZone>
#include <QtCore/QTimer>
#include <QtCore/QUrl>
#include <QtCore/QUuid>
#include <QtTest/QTest>

#include "testprinters.h"

#include <limits>

using namespace Synq;

namespace {

constexpr double NaN = std::numeric_limits<double>::quiet_NaN();
constexpr double Inf = std::numeric_limits<double>::infinity();
constexpr qint64 Int64Max = std::numeric_limits<qint64>::max();
constexpr qint64 Int64Min = std::numeric_limits<qint64>::min();

// An object built by inserting the keys exactly in the order given.
QJsonObject objectInOrder(const QStringList &keys)
{
    QJsonObject object;
    for (const QString &key : keys)
        object.insert(key, QJsonValue(key + QStringLiteral("-value")));
    return object;
}

// Stand-ins for foreign wrapper types such as QJSValue, which the QML plugin unwraps.
struct Boxed
{
    QVariant inner;
};
struct StubbornBox
{
};
struct UnregisteredBox
{
    QVariant inner;
};

QVariant unbox(const QVariant &value)
{
    return value.value<Boxed>().inner;
}

QVariant returnAsIs(const QVariant &value)
{
    return value;
}

} // namespace

Q_DECLARE_METATYPE(Boxed)
Q_DECLARE_METATYPE(StubbornBox)
Q_DECLARE_METATYPE(UnregisteredBox)

class tst_Json : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void acceptedValue_data();
    void acceptedValue();
    void rejectedValue_data();
    void rejectedValue();
    void rejectionLeavesOutputUntouched();
    void outputAndBadPathAreOptional();
    void fromVariantMap_data();
    void fromVariantMap();
    void fromVariantMapRejects_data();
    void fromVariantMapRejects();
    void encode_data();
    void encode();
    void encodeIsCanonical_data();
    void encodeIsCanonical();
    void encodeOfEqualVariantHashes();
    void encodeDecodeRoundTrip_data();
    void encodeDecodeRoundTrip();
    void decodeObject_data();
    void decodeObject();
    void unwrappedValue_data();
    void unwrappedValue();
    void unwrappedLeavesOtherTypesAlone_data();
    void unwrappedLeavesOtherTypesAlone();

private:
    QObject m_object;
    QTimer m_timer;
};

void tst_Json::initTestCase()
{
    Json::registerVariantUnwrapper(QMetaType::fromType<Boxed>(), &unbox);
    Json::registerVariantUnwrapper(QMetaType::fromType<StubbornBox>(), &returnAsIs);
}

void tst_Json::acceptedValue_data()
{
    QTest::addColumn<QVariant>("value");
    QTest::addColumn<QJsonValue>("expected");

    const QDateTime utc(QDate(2024, 3, 1), QTime(13, 45, 7, 89), Qt::UTC);
    const QDateTime plusOne(QDate(2024, 3, 1), QTime(13, 45, 7, 89), Qt::OffsetFromUTC, 3600);
    const QUuid uuid(QStringLiteral("{0190f5a8-3c2e-7d4b-9a1f-2b3c4d5e6f70}"));

    QTest::newRow("an invalid variant becomes null") << QVariant() << QJsonValue(QJsonValue::Null);
    QTest::newRow("a nullptr becomes null")
            << QVariant::fromValue(nullptr) << QJsonValue(QJsonValue::Null);
    QTest::newRow("true stays a boolean") << QVariant(true) << QJsonValue(true);
    QTest::newRow("false stays a boolean") << QVariant(false) << QJsonValue(false);
    QTest::newRow("an int becomes a number") << QVariant(42) << QJsonValue(42);
    QTest::newRow("a negative int becomes a number") << QVariant(-7) << QJsonValue(-7);
    QTest::newRow("zero becomes a number") << QVariant(0) << QJsonValue(0);
    QTest::newRow("a short becomes a number")
            << QVariant::fromValue(short(-300)) << QJsonValue(-300);
    QTest::newRow("an unsigned short becomes a number")
            << QVariant::fromValue(ushort(65535)) << QJsonValue(65535);
    QTest::newRow("a signed byte becomes a number")
            << QVariant::fromValue(qint8(-3)) << QJsonValue(-3);
    QTest::newRow("an unsigned byte becomes a number")
            << QVariant::fromValue(quint8(200)) << QJsonValue(200);
    QTest::newRow("the largest unsigned int becomes a number")
            << QVariant(std::numeric_limits<uint>::max())
            << QJsonValue(qint64(std::numeric_limits<uint>::max()));
    QTest::newRow("a long becomes a number")
            << QVariant::fromValue(long(-123456789)) << QJsonValue(qint64(-123456789));
    QTest::newRow("the largest qint64 stays exact")
            << QVariant(Int64Max) << QJsonValue(Int64Max);
    QTest::newRow("the smallest qint64 stays exact")
            << QVariant(Int64Min) << QJsonValue(Int64Min);
    QTest::newRow("an unsigned long that fits becomes a number")
            << QVariant::fromValue(ulong(99)) << QJsonValue(99);
    QTest::newRow("an unsigned long long equal to qint64 max is accepted")
            << QVariant(qulonglong(Int64Max)) << QJsonValue(Int64Max);
    QTest::newRow("an unsigned long long zero is accepted")
            << QVariant(qulonglong(0)) << QJsonValue(0);
    QTest::newRow("a double becomes a number") << QVariant(-2.25) << QJsonValue(-2.25);
    QTest::newRow("a float becomes a number") << QVariant(1.5f) << QJsonValue(1.5);
    QTest::newRow("negative zero is a finite number") << QVariant(-0.0) << QJsonValue(0.0);
    QTest::newRow("the largest double is finite")
            << QVariant(std::numeric_limits<double>::max())
            << QJsonValue(std::numeric_limits<double>::max());
    QTest::newRow("the lowest double is finite")
            << QVariant(std::numeric_limits<double>::lowest())
            << QJsonValue(std::numeric_limits<double>::lowest());
    QTest::newRow("the smallest denormal is finite")
            << QVariant(std::numeric_limits<double>::denorm_min())
            << QJsonValue(std::numeric_limits<double>::denorm_min());
    QTest::newRow("a string stays a string")
            << QVariant(QStringLiteral("hello")) << QJsonValue(QStringLiteral("hello"));
    QTest::newRow("an empty string stays an empty string, not null")
            << QVariant(QString()) << QJsonValue(QString());
    QTest::newRow("a non-latin string keeps its characters")
            << QVariant(QStringLiteral(u"日本語 ✓ 😀")) << QJsonValue(QStringLiteral(u"日本語 ✓ 😀"));
    QTest::newRow("a QChar becomes a one-letter string")
            << QVariant(QChar(u'x')) << QJsonValue(QStringLiteral("x"));
    QTest::newRow("a UTC date-time becomes ISO 8601 with milliseconds and Z")
            << QVariant(utc) << QJsonValue(QStringLiteral("2024-03-01T13:45:07.089Z"));
    QTest::newRow("a date-time with an offset keeps the offset")
            << QVariant(plusOne) << QJsonValue(QStringLiteral("2024-03-01T13:45:07.089+01:00"));
    QTest::newRow("a date becomes an ISO 8601 date")
            << QVariant(QDate(1999, 12, 31)) << QJsonValue(QStringLiteral("1999-12-31"));
    QTest::newRow("a time becomes an ISO 8601 time with milliseconds")
            << QVariant(QTime(7, 8, 9, 10)) << QJsonValue(QStringLiteral("07:08:09.010"));
    QTest::newRow("a URL becomes its string")
            << QVariant(QUrl(QStringLiteral("https://example.com/a?b=1#c")))
            << QJsonValue(QStringLiteral("https://example.com/a?b=1#c"));
    QTest::newRow("a UUID becomes its string without braces")
            << QVariant(uuid) << QJsonValue(QStringLiteral("0190f5a8-3c2e-7d4b-9a1f-2b3c4d5e6f70"));
    QTest::newRow("a string list becomes an array of strings")
            << QVariant(QStringList{ QStringLiteral("a"), QStringLiteral("b") })
            << QJsonValue(QJsonArray{ QStringLiteral("a"), QStringLiteral("b") });
    QTest::newRow("an empty list becomes an empty array")
            << QVariant(QVariantList()) << QJsonValue(QJsonArray());
    QTest::newRow("a mixed list keeps each element's type")
            << QVariant(QVariantList{ 1, QStringLiteral("two"), true, QVariant(), 4.5 })
            << QJsonValue(QJsonArray{ 1, QStringLiteral("two"), true, QJsonValue::Null, 4.5 });
    QTest::newRow("nested lists stay nested")
            << QVariant(QVariantList{ QVariantList{ QVariantList{ 1 } }, QVariantList() })
            << QJsonValue(QJsonArray{ QJsonArray{ QJsonArray{ 1 } }, QJsonArray() });
    QTest::newRow("an empty map becomes an empty object")
            << QVariant(QVariantMap()) << QJsonValue(QJsonObject());
    QTest::newRow("a map of maps and lists becomes nested objects and arrays")
            << QVariant(QVariantMap{
                       { QStringLiteral("name"), QStringLiteral("Ada") },
                       { QStringLiteral("address"),
                         QVariantMap{ { QStringLiteral("zip"), QStringLiteral("12345") },
                                      { QStringLiteral("lines"),
                                        QVariantList{ QStringLiteral("1 Road") } } } } })
            << QJsonValue(QJsonObject{
                       { QStringLiteral("name"), QStringLiteral("Ada") },
                       { QStringLiteral("address"),
                         QJsonObject{ { QStringLiteral("zip"), QStringLiteral("12345") },
                                      { QStringLiteral("lines"),
                                        QJsonArray{ QStringLiteral("1 Road") } } } } });
    QTest::newRow("a hash becomes an object")
            << QVariant(QVariantHash{ { QStringLiteral("b"), 2 }, { QStringLiteral("a"), 1 } })
            << QJsonValue(QJsonObject{ { QStringLiteral("a"), 1 }, { QStringLiteral("b"), 2 } });
    QTest::newRow("a date inside a list becomes a string")
            << QVariant(QVariantList{ QDate(2020, 2, 29) })
            << QJsonValue(QJsonArray{ QStringLiteral("2020-02-29") });
    QTest::newRow("a JSON string value passes through")
            << QVariant(QJsonValue(QStringLiteral("s"))) << QJsonValue(QStringLiteral("s"));
    QTest::newRow("a JSON null value passes through")
            << QVariant(QJsonValue(QJsonValue::Null)) << QJsonValue(QJsonValue::Null);
    QTest::newRow("a JSON object passes through")
            << QVariant(QJsonObject{ { QStringLiteral("k"), QJsonArray{ 1, 2 } } })
            << QJsonValue(QJsonObject{ { QStringLiteral("k"), QJsonArray{ 1, 2 } } });
    QTest::newRow("a JSON array passes through")
            << QVariant(QJsonArray{ 1, QStringLiteral("x") })
            << QJsonValue(QJsonArray{ 1, QStringLiteral("x") });
    QTest::newRow("a JSON document holding an object becomes that object")
            << QVariant(QJsonDocument(QJsonObject{ { QStringLiteral("d"), 1 } }))
            << QJsonValue(QJsonObject{ { QStringLiteral("d"), 1 } });
    QTest::newRow("a JSON document holding an array becomes that array")
            << QVariant(QJsonDocument(QJsonArray{ true })) << QJsonValue(QJsonArray{ true });
}

void tst_Json::acceptedValue()
{
    QFETCH(QVariant, value);
    QFETCH(QJsonValue, expected);

    QJsonValue out(QStringLiteral("sentinel"));
    QString badPath = QStringLiteral("untouched");
    QVERIFY(Json::fromVariant(value, &out, &badPath));
    QCOMPARE(out.type(), expected.type());
    QCOMPARE(out, expected);
    QCOMPARE(badPath, QStringLiteral("untouched"));
}

void tst_Json::rejectedValue_data()
{
    QTest::addColumn<QVariant>("value");
    QTest::addColumn<QString>("badPath");

    const QString top = QStringLiteral("(value)");

    QTest::newRow("a QObject pointer is refused")
            << QVariant::fromValue(&m_object) << top;
    QTest::newRow("a pointer to a QObject subclass is refused")
            << QVariant::fromValue(&m_timer) << top;
    QTest::newRow("a null QObject pointer is refused, not turned into null")
            << QVariant::fromValue(static_cast<QObject *>(nullptr)) << top;
    QTest::newRow("a point is refused") << QVariant(QPoint(1, 2)) << top;
    QTest::newRow("a floating point point is refused") << QVariant(QPointF(1.5, 2)) << top;
    QTest::newRow("a size is refused") << QVariant(QSize(3, 4)) << top;
    QTest::newRow("a rect is refused") << QVariant(QRect(0, 0, 5, 5)) << top;
    QTest::newRow("a byte array is refused") << QVariant(QByteArray("bytes")) << top;
    QTest::newRow("an empty byte array is refused") << QVariant(QByteArray()) << top;
    QTest::newRow("a byte array list is refused")
            << QVariant::fromValue(QByteArrayList{ "a" }) << top;
    QTest::newRow("a regular expression is refused")
            << QVariant(QRegularExpression(QStringLiteral("a+"))) << top;
    QTest::newRow("a locale is refused") << QVariant(QLocale::c()) << top;
    QTest::newRow("a bit array is refused") << QVariant(QBitArray(3, true)) << top;
    QTest::newRow("a NaN double is refused") << QVariant(NaN) << top;
    QTest::newRow("positive infinity is refused") << QVariant(Inf) << top;
    QTest::newRow("negative infinity is refused") << QVariant(-Inf) << top;
    QTest::newRow("a NaN float is refused")
            << QVariant(std::numeric_limits<float>::quiet_NaN()) << top;
    QTest::newRow("an infinite float is refused")
            << QVariant(std::numeric_limits<float>::infinity()) << top;
    QTest::newRow("an unsigned long long one above qint64 max is refused")
            << QVariant(qulonglong(Int64Max) + 1) << top;
    QTest::newRow("the largest unsigned long long is refused")
            << QVariant(std::numeric_limits<qulonglong>::max()) << top;
    QTest::newRow("the largest unsigned long is refused")
            << QVariant::fromValue(std::numeric_limits<ulong>::max()) << top;
    QTest::newRow("an invalid date-time is refused") << QVariant(QDateTime()) << top;
    QTest::newRow("a date-time on a day that does not exist is refused")
            << QVariant(QDateTime(QDate(2023, 2, 30), QTime(1, 0), Qt::UTC)) << top;
    QTest::newRow("an invalid date is refused") << QVariant(QDate(2023, 2, 30)) << top;
    QTest::newRow("an invalid time is refused") << QVariant(QTime(25, 0)) << top;
    QTest::newRow("an undefined JSON value is refused")
            << QVariant(QJsonValue(QJsonValue::Undefined)) << top;
    QTest::newRow("a NaN JSON value is refused") << QVariant(QJsonValue(NaN)) << top;
    QTest::newRow("an infinite JSON value is refused") << QVariant(QJsonValue(-Inf)) << top;
    QTest::newRow("an empty JSON document is refused") << QVariant(QJsonDocument()) << top;

    // Nested failures name the offending element.
    QTest::newRow("NaN in a list inside a map is reported as a.b[2]")
            << QVariant(QVariantMap{
                       { QStringLiteral("a"),
                         QVariantMap{ { QStringLiteral("b"), QVariantList{ 1, 2, NaN } } } } })
            << QStringLiteral("a.b[2]");
    QTest::newRow("infinity in a map inside a list is reported as [1].x")
            << QVariant(QVariantList{ 0, QVariantMap{ { QStringLiteral("x"), Inf } } })
            << QStringLiteral("[1].x");
    QTest::newRow("negative infinity deep in lists is reported with every index")
            << QVariant(QVariantList{ QVariantList{ 1, QVariantList{ 2, 3, -Inf } } })
            << QStringLiteral("[0][1][2]");
    QTest::newRow("a byte array in a tag list is reported as tags[2]")
            << QVariant(QVariantMap{ { QStringLiteral("tags"),
                                       QVariantList{ QStringLiteral("a"), QStringLiteral("b"),
                                                     QByteArray("c") } } })
            << QStringLiteral("tags[2]");
    QTest::newRow("a point in a nested map is reported as address.zip")
            << QVariant(QVariantMap{
                       { QStringLiteral("address"),
                         QVariantMap{ { QStringLiteral("city"), QStringLiteral("Oslo") },
                                      { QStringLiteral("zip"), QPoint(1, 2) } } } })
            << QStringLiteral("address.zip");
    QTest::newRow("a QObject pointer in a map is reported by its field")
            << QVariant(QVariantMap{ { QStringLiteral("owner"), QVariant::fromValue(&m_object) } })
            << QStringLiteral("owner");
    QTest::newRow("a too large unsigned number in a list is reported by its index")
            << QVariant(QVariantList{ std::numeric_limits<qulonglong>::max() })
            << QStringLiteral("[0]");
    QTest::newRow("an invalid date-time in a nested map is reported by its path")
            << QVariant(QVariantMap{ { QStringLiteral("meta"),
                                       QVariantMap{ { QStringLiteral("when"), QDateTime() } } } })
            << QStringLiteral("meta.when");
    QTest::newRow("NaN in a hash inside a map is reported by its path")
            << QVariant(QVariantMap{ { QStringLiteral("h"),
                                       QVariantHash{ { QStringLiteral("n"), NaN } } } })
            << QStringLiteral("h.n");
    QTest::newRow("NaN in a JSON array inside a map is reported by its path")
            << QVariant(QVariantMap{ { QStringLiteral("a"), QJsonArray{ 1, NaN } } })
            << QStringLiteral("a[1]");
    QTest::newRow("infinity in a JSON object inside a map is reported by its path")
            << QVariant(QVariantMap{ { QStringLiteral("o"),
                                       QJsonObject{ { QStringLiteral("x"), Inf } } } })
            << QStringLiteral("o.x");
    QTest::newRow("infinity in a JSON object given directly is reported by its field")
            << QVariant(QJsonObject{ { QStringLiteral("x"), QJsonArray{ 1, -Inf } } })
            << QStringLiteral("x[1]");
    QTest::newRow("NaN in a JSON value holding an array is reported by its index")
            << QVariant(QJsonValue(QJsonArray{ QJsonObject{ { QStringLiteral("y"), NaN } } }))
            << QStringLiteral("[0].y");
    QTest::newRow("NaN in a JSON document is reported by its path")
            << QVariant(QJsonDocument(QJsonObject{ { QStringLiteral("d"), NaN } }))
            << QStringLiteral("d");
}

void tst_Json::rejectedValue()
{
    QFETCH(QVariant, value);
    QFETCH(QString, badPath);

    QJsonValue out;
    QString reported;
    QVERIFY(!Json::fromVariant(value, &out, &reported));
    QCOMPARE(reported, badPath);
}

void tst_Json::rejectionLeavesOutputUntouched()
{
    const QJsonValue sentinel(QStringLiteral("sentinel"));
    QJsonValue out = sentinel;
    const QVariantMap bad{ { QStringLiteral("ok"), 1 }, { QStringLiteral("z"), NaN } };
    QVERIFY(!Json::fromVariant(bad, &out));
    QCOMPARE(out, sentinel);

    const QJsonObject objectSentinel{ { QStringLiteral("keep"), true } };
    QJsonObject object = objectSentinel;
    QVERIFY(!Json::fromVariantMap(bad, &object));
    QCOMPARE(object, objectSentinel);
}

void tst_Json::outputAndBadPathAreOptional()
{
    QVERIFY(Json::fromVariant(QVariant(1), nullptr));
    QVERIFY(!Json::fromVariant(QVariant(NaN), nullptr));
    QVERIFY(Json::fromVariantMap({ { QStringLiteral("a"), 1 } }, nullptr));
    QVERIFY(!Json::fromVariantMap({ { QStringLiteral("a"), QPoint() } }, nullptr));
}

void tst_Json::fromVariantMap_data()
{
    QTest::addColumn<QVariantMap>("map");
    QTest::addColumn<QJsonObject>("expected");

    QTest::newRow("an empty map is an empty object") << QVariantMap() << QJsonObject();
    QTest::newRow("scalars of every kind convert field by field")
            << QVariantMap{ { QStringLiteral("s"), QStringLiteral("x") },
                            { QStringLiteral("i"), 3 },
                            { QStringLiteral("d"), 0.5 },
                            { QStringLiteral("b"), false },
                            { QStringLiteral("n"), QVariant() } }
            << QJsonObject{ { QStringLiteral("s"), QStringLiteral("x") },
                            { QStringLiteral("i"), 3 },
                            { QStringLiteral("d"), 0.5 },
                            { QStringLiteral("b"), false },
                            { QStringLiteral("n"), QJsonValue::Null } };
    QTest::newRow("nested maps and lists become nested objects and arrays")
            << QVariantMap{ { QStringLiteral("a"),
                              QVariantMap{ { QStringLiteral("b"), QVariantList{ 1, 2, 3 } } } } }
            << QJsonObject{ { QStringLiteral("a"),
                              QJsonObject{ { QStringLiteral("b"), QJsonArray{ 1, 2, 3 } } } } };
    QTest::newRow("an empty key is kept")
            << QVariantMap{ { QString(), 1 } } << QJsonObject{ { QString(), 1 } };
}

void tst_Json::fromVariantMap()
{
    QFETCH(QVariantMap, map);
    QFETCH(QJsonObject, expected);

    QJsonObject out{ { QStringLiteral("stale"), 1 } };
    QVERIFY(Json::fromVariantMap(map, &out));
    QCOMPARE(out, expected);
}

void tst_Json::fromVariantMapRejects_data()
{
    QTest::addColumn<QVariantMap>("map");
    QTest::addColumn<QString>("badPath");

    QTest::newRow("a top-level NaN field is reported by its name")
            << QVariantMap{ { QStringLiteral("price"), NaN } } << QStringLiteral("price");
    QTest::newRow("a byte array in a nested list is reported as a.b[2]")
            << QVariantMap{ { QStringLiteral("a"),
                              QVariantMap{ { QStringLiteral("b"),
                                             QVariantList{ 0, 1, QByteArray("x") } } } } }
            << QStringLiteral("a.b[2]");
    QTest::newRow("a size in a list of maps is reported as items[1].size")
            << QVariantMap{ { QStringLiteral("items"),
                              QVariantList{ QVariantMap{ { QStringLiteral("size"), 1 } },
                                            QVariantMap{ { QStringLiteral("size"),
                                                           QSize(1, 1) } } } } }
            << QStringLiteral("items[1].size");
    QTest::newRow("a QObject pointer deep inside is reported by its path")
            << QVariantMap{ { QStringLiteral("x"),
                              QVariantMap{ { QStringLiteral("y"),
                                             QVariantMap{ { QStringLiteral("z"),
                                                            QVariant::fromValue(
                                                                    &m_object) } } } } } }
            << QStringLiteral("x.y.z");
}

void tst_Json::fromVariantMapRejects()
{
    QFETCH(QVariantMap, map);
    QFETCH(QString, badPath);

    QJsonObject out;
    QString reported;
    QVERIFY(!Json::fromVariantMap(map, &out, &reported));
    QCOMPARE(reported, badPath);
}

void tst_Json::encode_data()
{
    QTest::addColumn<QJsonObject>("object");
    QTest::addColumn<QByteArray>("expected");

    QTest::newRow("an empty object is two braces") << QJsonObject() << QByteArray("{}");
    QTest::newRow("keys come out sorted and without whitespace")
            << QJsonObject{ { QStringLiteral("b"), 2 }, { QStringLiteral("a"), 1 },
                            { QStringLiteral("c"), 3 } }
            << QByteArray(R"({"a":1,"b":2,"c":3})");
    QTest::newRow("upper case keys sort before lower case keys")
            << QJsonObject{ { QStringLiteral("a"), 1 }, { QStringLiteral("B"), 2 } }
            << QByteArray(R"({"B":2,"a":1})");
    QTest::newRow("nested objects are sorted too")
            << QJsonObject{ { QStringLiteral("z"),
                              QJsonObject{ { QStringLiteral("y"), 1 },
                                           { QStringLiteral("x"), 2 } } } }
            << QByteArray(R"({"z":{"x":2,"y":1}})");
    QTest::newRow("arrays keep their order")
            << QJsonObject{ { QStringLiteral("a"), QJsonArray{ 3, 1, 2 } } }
            << QByteArray(R"({"a":[3,1,2]})");
    QTest::newRow("literals are written as JSON literals")
            << QJsonObject{ { QStringLiteral("t"), true },
                            { QStringLiteral("f"), false },
                            { QStringLiteral("n"), QJsonValue::Null } }
            << QByteArray(R"({"f":false,"n":null,"t":true})");
    QTest::newRow("an integral double is written like an integer")
            << QJsonObject{ { QStringLiteral("d"), 1.0 } } << QByteArray(R"({"d":1})");
    QTest::newRow("a fractional double keeps its fraction")
            << QJsonObject{ { QStringLiteral("d"), -0.5 } } << QByteArray(R"({"d":-0.5})");
    QTest::newRow("a large integer stays exact")
            << QJsonObject{ { QStringLiteral("i"), QJsonValue(Int64Max) } }
            << QByteArray(R"({"i":9223372036854775807})");
    QTest::newRow("quotes and backslashes are escaped")
            << QJsonObject{ { QStringLiteral("s"), QStringLiteral("a\"b\\c") } }
            << QByteArray(R"({"s":"a\"b\\c"})");
    QTest::newRow("control characters are escaped")
            << QJsonObject{ { QStringLiteral("s"), QStringLiteral("line\nnext\t") } }
            << QByteArray(R"({"s":"line\nnext\t"})");
    QTest::newRow("non-ASCII text is written as UTF-8")
            << QJsonObject{ { QStringLiteral("s"), QStringLiteral(u"é") } }
            << QByteArray("{\"s\":\"\xc3\xa9\"}");
}

void tst_Json::encode()
{
    QFETCH(QJsonObject, object);
    QFETCH(QByteArray, expected);

    QCOMPARE(Json::encode(object), expected);
}

void tst_Json::encodeIsCanonical_data()
{
    QTest::addColumn<QStringList>("first");
    QTest::addColumn<QStringList>("second");

    QTest::newRow("reversed insertion order encodes the same")
            << QStringList{ QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c") }
            << QStringList{ QStringLiteral("c"), QStringLiteral("b"), QStringLiteral("a") };
    QTest::newRow("shuffled insertion order encodes the same")
            << QStringList{ QStringLiteral("id"), QStringLiteral("title"), QStringLiteral("done"),
                            QStringLiteral("_rev"), QStringLiteral("Zeta") }
            << QStringList{ QStringLiteral("done"), QStringLiteral("Zeta"), QStringLiteral("id"),
                            QStringLiteral("_rev"), QStringLiteral("title") };
    QTest::newRow("non-ASCII keys in any order encode the same")
            << QStringList{ QStringLiteral(u"ü"), QStringLiteral(u"😀"), QStringLiteral(u"！"),
                            QStringLiteral("a") }
            << QStringList{ QStringLiteral(u"！"), QStringLiteral("a"), QStringLiteral(u"😀"),
                            QStringLiteral(u"ü") };
    QTest::newRow("keys that are prefixes of each other encode the same")
            << QStringList{ QStringLiteral("ab"), QStringLiteral("a"), QStringLiteral("abc") }
            << QStringList{ QStringLiteral("abc"), QStringLiteral("ab"), QStringLiteral("a") };
}

void tst_Json::encodeIsCanonical()
{
    QFETCH(QStringList, first);
    QFETCH(QStringList, second);

    const QJsonObject a = objectInOrder(first);
    const QJsonObject b = objectInOrder(second);
    QCOMPARE(a, b);
    QCOMPARE(Json::encode(a), Json::encode(b));

    // The same holds one level down.
    const QJsonObject outerA{ { QStringLiteral("inner"), a }, { QStringLiteral("n"), 1 } };
    QJsonObject outerB;
    outerB.insert(QStringLiteral("n"), 1.0); // numerically equal double
    outerB.insert(QStringLiteral("inner"), b);
    QCOMPARE(outerA, outerB);
    QCOMPARE(Json::encode(outerA), Json::encode(outerB));
}

void tst_Json::encodeOfEqualVariantHashes()
{
    // Hashes iterate in an unspecified order; the encoding must not depend on it.
    QVariantHash first;
    QVariantHash second;
    for (int i = 0; i < 200; ++i)
        first.insert(QStringLiteral("k%1").arg(i), i);
    for (int i = 199; i >= 0; --i)
        second.insert(QStringLiteral("k%1").arg(i), i);

    QJsonValue a, b;
    QVERIFY(Json::fromVariant(QVariantMap{ { QStringLiteral("h"), first } }, &a));
    QVERIFY(Json::fromVariant(QVariantMap{ { QStringLiteral("h"), second } }, &b));
    QVERIFY(a.isObject());
    QCOMPARE(Json::encode(a.toObject()), Json::encode(b.toObject()));
    QCOMPARE(a.toObject().value(QStringLiteral("h")).toObject().size(), 200);
}

void tst_Json::encodeDecodeRoundTrip_data()
{
    QTest::addColumn<QJsonObject>("object");

    QTest::newRow("an empty object survives a round trip") << QJsonObject();
    QTest::newRow("a nested object with every JSON type survives a round trip")
            << QJsonObject{ { QStringLiteral("s"), QStringLiteral(u"t€xt \"q\"") },
                            { QStringLiteral("i"), QJsonValue(Int64Min) },
                            { QStringLiteral("d"), 3.25 },
                            { QStringLiteral("b"), true },
                            { QStringLiteral("n"), QJsonValue::Null },
                            { QStringLiteral("a"),
                              QJsonArray{ 1, QJsonArray{}, QJsonObject{ { QStringLiteral("x"),
                                                                          false } } } },
                            { QStringLiteral("o"), QJsonObject{ { QStringLiteral("p"), 0 } } } };
}

void tst_Json::encodeDecodeRoundTrip()
{
    QFETCH(QJsonObject, object);

    QJsonObject decoded;
    QVERIFY(Json::decodeObject(Json::encode(object), &decoded));
    QCOMPARE(decoded, object);
    QCOMPARE(Json::encode(decoded), Json::encode(object));
}

void tst_Json::decodeObject_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QJsonObject>("expected");

    const QJsonObject none;
    QTest::newRow("an empty object decodes") << QByteArray("{}") << true << QJsonObject();
    QTest::newRow("an object with surrounding whitespace decodes")
            << QByteArray(" \n\t{ \"a\" : 1 }\r\n ") << true
            << QJsonObject{ { QStringLiteral("a"), 1 } };
    QTest::newRow("a nested object decodes")
            << QByteArray(R"({"a":{"b":[1,"2",null,true]}})") << true
            << QJsonObject{ { QStringLiteral("a"),
                              QJsonObject{ { QStringLiteral("b"),
                                             QJsonArray{ 1, QStringLiteral("2"),
                                                         QJsonValue::Null, true } } } } };
    QTest::newRow("escaped unicode decodes")
            << QByteArray(R"({"s":"\u00e9\ud83d\ude00"})") << true
            << QJsonObject{ { QStringLiteral("s"), QStringLiteral(u"é😀") } };
    QTest::newRow("an empty array is refused") << QByteArray("[]") << false << none;
    QTest::newRow("an array of objects is refused") << QByteArray("[{}]") << false << none;
    QTest::newRow("a number is refused") << QByteArray("1") << false << none;
    QTest::newRow("a string is refused") << QByteArray("\"{}\"") << false << none;
    QTest::newRow("null is refused") << QByteArray("null") << false << none;
    QTest::newRow("true is refused") << QByteArray("true") << false << none;
    QTest::newRow("no bytes at all are refused") << QByteArray() << false << none;
    QTest::newRow("whitespace only is refused") << QByteArray("  \n ") << false << none;
    QTest::newRow("a truncated object is refused") << QByteArray(R"({"a":1)") << false << none;
    QTest::newRow("an object cut after a colon is refused")
            << QByteArray(R"({"a":)") << false << none;
    QTest::newRow("an object cut inside a string is refused")
            << QByteArray(R"({"a":"bc)") << false << none;
    QTest::newRow("a lone opening brace is refused") << QByteArray("{") << false << none;
    QTest::newRow("plain text is refused") << QByteArray("hello world") << false << none;
    QTest::newRow("an object followed by garbage is refused")
            << QByteArray(R"({"a":1} x)") << false << none;
    QTest::newRow("two objects in a row are refused") << QByteArray("{}{}") << false << none;
    QTest::newRow("an object followed by a NUL byte is refused")
            << QByteArray("{}\0", 3) << false << none;
    QTest::newRow("a trailing comma is refused") << QByteArray(R"({"a":1,})") << false << none;
    QTest::newRow("single quotes are refused") << QByteArray("{'a':1}") << false << none;
    QTest::newRow("an unquoted key is refused") << QByteArray("{a:1}") << false << none;
    QTest::newRow("a NaN literal is refused") << QByteArray(R"({"a":NaN})") << false << none;
    QTest::newRow("an out-of-range number is refused")
            << QByteArray(R"({"a":1e999})") << false << none;
    QTest::newRow("a comment is refused")
            << QByteArray("{/* c */\"a\":1}") << false << none;
    QTest::newRow("invalid UTF-8 bytes are refused")
            << QByteArray("{\"a\":\"\xff\xfe\"}") << false << none;
}

void tst_Json::decodeObject()
{
    QFETCH(QByteArray, bytes);
    QFETCH(bool, ok);
    QFETCH(QJsonObject, expected);

    const QJsonObject sentinel{ { QStringLiteral("sentinel"), true } };
    QJsonObject out = sentinel;
    QCOMPARE(Json::decodeObject(bytes, &out), ok);
    QCOMPARE(out, ok ? expected : sentinel);
    // The output pointer is optional and does not change the verdict.
    QCOMPARE(Json::decodeObject(bytes, nullptr), ok);
}

void tst_Json::unwrappedValue_data()
{
    QTest::addColumn<QVariant>("value");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QJsonValue>("expected");
    QTest::addColumn<QString>("badPath");

    const auto box = [](const QVariant &inner) { return QVariant::fromValue(Boxed{ inner }); };

    QTest::newRow("a wrapped number converts as the number")
            << box(42) << true << QJsonValue(42) << QString();
    QTest::newRow("a wrapped map converts as the map")
            << box(QVariantMap{ { QStringLiteral("a"), QStringLiteral("b") } }) << true
            << QJsonValue(QJsonObject{ { QStringLiteral("a"), QStringLiteral("b") } }) << QString();
    QTest::newRow("a wrapped empty variant becomes null")
            << box(QVariant()) << true << QJsonValue(QJsonValue::Null) << QString();
    QTest::newRow("wrappers inside lists and maps are unwrapped")
            << QVariant(QVariantMap{ { QStringLiteral("l"), QVariantList{ box(1), box(2) } } })
            << true
            << QJsonValue(QJsonObject{ { QStringLiteral("l"), QJsonArray{ 1, 2 } } }) << QString();
    QTest::newRow("a wrapped NaN is still refused, at the wrapper's path")
            << QVariant(QVariantMap{ { QStringLiteral("x"), QVariantList{ 0, box(NaN) } } })
            << false << QJsonValue() << QStringLiteral("x[1]");
    QTest::newRow("a wrapped byte array is still refused")
            << box(QByteArray("raw")) << false << QJsonValue() << QStringLiteral("(value)");
    QTest::newRow("NaN deep inside a wrapped map is reported by its full path")
            << QVariant(QVariantMap{ { QStringLiteral("a"),
                                       box(QVariantMap{ { QStringLiteral("b"), Inf } }) } })
            << false << QJsonValue() << QStringLiteral("a.b");
    QTest::newRow("an unwrapper that returns its input is refused instead of looping")
            << QVariant::fromValue(StubbornBox()) << false << QJsonValue()
            << QStringLiteral("(value)");
    QTest::newRow("a wrapper type nobody registered is refused")
            << QVariant::fromValue(UnregisteredBox{ 1 }) << false << QJsonValue()
            << QStringLiteral("(value)");
}

void tst_Json::unwrappedValue()
{
    QFETCH(QVariant, value);
    QFETCH(bool, ok);
    QFETCH(QJsonValue, expected);
    QFETCH(QString, badPath);

    QJsonValue out;
    QString reported;
    QCOMPARE(Json::fromVariant(value, &out, &reported), ok);
    if (ok)
        QCOMPARE(out, expected);
    else
        QCOMPARE(reported, badPath);
}

void tst_Json::unwrappedLeavesOtherTypesAlone_data()
{
    QTest::addColumn<QVariant>("value");
    QTest::addColumn<QVariant>("expected");

    QTest::newRow("a registered wrapper is unwrapped one level")
            << QVariant::fromValue(Boxed{ QStringLiteral("in") }) << QVariant(QStringLiteral("in"));
    QTest::newRow("a plain string is returned as it is")
            << QVariant(QStringLiteral("s")) << QVariant(QStringLiteral("s"));
    QTest::newRow("a plain map is returned as it is")
            << QVariant(QVariantMap{ { QStringLiteral("k"), 1 } })
            << QVariant(QVariantMap{ { QStringLiteral("k"), 1 } });
    QTest::newRow("an empty variant is returned as it is") << QVariant() << QVariant();
    QTest::newRow("an unregistered unknown type is returned as it is")
            << QVariant(QPoint(1, 2)) << QVariant(QPoint(1, 2));
}

void tst_Json::unwrappedLeavesOtherTypesAlone()
{
    QFETCH(QVariant, value);
    QFETCH(QVariant, expected);

    const QVariant result = Json::unwrapped(value);
    QCOMPARE(result.metaType(), expected.metaType());
    QCOMPARE(result, expected);
}

QTEST_GUILESS_MAIN(tst_Json)
#include "tst_json.moc"
