from setuptools import find_packages, setup

setup(
    name="wampd",
    version="0.1.0",
    description="A lean WAMP v2 router on Twisted and Autobahn",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["router", "router.*", "components"]) + ["twisted.plugins"],
    package_data={"twisted": ["plugins/wampd_plugin.py"]},
    install_requires=[
        "autobahn[twisted]>=24.4.2",
        "twisted>=24.3",
        "txaio>=23.1",
        "pyopenssl>=24.0",
        "service-identity>=24.1",
        "msgpack>=1.0",
        "cbor2>=5.6",
        "pyyaml>=6.0",
        "cryptography>=42",
        "argon2-cffi>=23.1",
    ],
    extras_require={
        "test": ["pytest>=8", "pytest-twisted>=1.14", "hypothesis>=6", "passlib>=1.7"],
        "dev": ["ruff", "mypy"],
        "bench": ["py-spy>=0.3"],
    },
    entry_points={"console_scripts": ["wampd = router.cli:main"]},
)
